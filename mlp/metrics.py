"""Classification and regression metrics from plain arrays (no scikit-learn needed)."""
import numpy as np


def confusion_matrix(y_true, y_pred, n_classes=None):
    """Counts ``C[i, j]`` of samples of true class ``i`` predicted as ``j`` (integer labels)."""
    t = np.asarray(y_true).astype(np.int64).ravel()
    p = np.asarray(y_pred).astype(np.int64).ravel()
    k = int(n_classes or max(t.max(initial=0), p.max(initial=0)) + 1)
    return np.bincount((t * k + p).astype(np.intp), minlength=k * k).reshape(k, k)  # intp: 32-bit in Pyodide


def accuracy(y_true, y_pred):
    t, p = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    return float((t == p).mean()) if t.size else float("nan")


def count_correct(out, y):
    """How many rows of the network's outputs ``out`` (n, k) hit their targets ``y`` (n, k): one unit
    thresholded at 0.5 (a sigmoid), else the argmax (one-hot targets)."""
    if out.shape[1] == 1:
        return np.count_nonzero((out >= 0.5) == (y >= 0.5))
    return np.count_nonzero(out.argmax(axis=1) == y.argmax(axis=1))


def precision_recall_f1(y_true, y_pred, average="binary", n_classes=None):
    """Precision, recall and F1. ``average='binary'`` scores class 1; ``'macro'`` averages per class:
    over the classes 0..n_classes-1 when ``n_classes`` is given (scikit-learn's ``labels=range(n)``),
    otherwise over the labels present in ``y_true`` or ``y_pred`` (scikit-learn's default).
    A class never predicted (or never present) scores 0 for that ratio, as scikit-learn's zero_division=0."""
    cm = confusion_matrix(y_true, y_pred, n_classes=n_classes or (2 if average == "binary" else None))
    tp = np.diag(cm).astype(float)
    pred, true = cm.sum(axis=0), cm.sum(axis=1)
    prec = np.divide(tp, pred, out=np.zeros_like(tp), where=pred > 0)
    rec = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros_like(tp), where=(prec + rec) > 0)
    if average == "binary":
        return float(prec[1]), float(rec[1]), float(f1[1])
    if average == "macro":
        if not n_classes:  # only the labels that occur, as scikit-learn
            seen = (pred + true) > 0
            prec, rec, f1 = prec[seen], rec[seen], f1[seen]
        return float(prec.mean()), float(rec.mean()), float(f1.mean())
    raise ValueError(f"average must be 'binary' or 'macro', got {average!r}.")


def mae(y_true, y_pred):
    return float(np.abs(np.asarray(y_pred, float) - np.asarray(y_true, float)).mean())


def rmse(y_true, y_pred):
    """Root mean squared error (per output column, then averaged, as scikit-learn's uniform_average)."""
    t = np.asarray(y_true, float).reshape(len(y_true), -1)
    p = np.asarray(y_pred, float).reshape(len(y_pred), -1)
    return float(np.sqrt(((p - t) ** 2).mean(axis=0)).mean())


def r2(y_true, y_pred):
    """Coefficient of determination (averaged over output columns, as scikit-learn's uniform_average)."""
    t = np.asarray(y_true, float).reshape(len(y_true), -1)
    p = np.asarray(y_pred, float).reshape(len(y_pred), -1)
    ss_res = ((t - p) ** 2).sum(axis=0)
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    per = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.where(ss_res > 0, 0.0, 1.0))
    return float(per.mean())


def poisson_deviance(y_true, y_pred):
    """Mean Poisson deviance, 2 (y log(y / mu) - y + mu) with y log(y / mu) = 0 at y = 0, as scikit-learn's
    ``mean_poisson_deviance``: targets ``y`` >= 0 (counts), predicted mean counts ``mu`` > 0 (a count that
    underflowed to 0 against a positive target gives inf)."""
    t = np.asarray(y_true, float).ravel()
    mu = np.asarray(y_pred, float).ravel()
    if t.size and t.min() < 0:
        raise ValueError(f"the Poisson deviance needs targets >= 0 (counts); found {t.min():g}.")
    if mu.size and not mu.min() >= 0:
        raise ValueError(f"the Poisson deviance needs predicted counts > 0; found {mu.min():g}.")
    with np.errstate(divide="ignore", invalid="ignore"):
        ylogy = np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0) / mu), 0.0)
    return float((2.0 * (ylogy - t + mu)).mean())


def classification_report(y_true, y_pred, n_classes):
    """Dict of accuracy, precision, recall, f1 (binary for 2 classes, macro otherwise) and the confusion matrix."""
    average = "binary" if n_classes == 2 else "macro"
    p, r, f = precision_recall_f1(y_true, y_pred, average=average, n_classes=n_classes)
    return {"accuracy": accuracy(y_true, y_pred), "precision": p, "recall": r, "f1": f,
            "confusion_matrix": confusion_matrix(y_true, y_pred, n_classes).tolist()}


def regression_report(y_true, y_pred, poisson=False):
    """mae, rmse and r2; with ``poisson`` (predicted mean counts of a poisson model) also ``poisson_deviance``."""
    out = {"mae": mae(y_true, y_pred), "rmse": rmse(y_true, y_pred), "r2": r2(y_true, y_pred)}
    if poisson:
        out["poisson_deviance"] = poisson_deviance(y_true, y_pred)
    return out
