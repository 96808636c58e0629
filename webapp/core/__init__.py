"""The UI-free core both front ends share (issue 16 moves session, charts, links and explain here)."""
