"""A short numpy model of the published GPTQ algorithm (min-max affine grid + OBQ sweep with lazy
block updates), used to check the library's codes. fp32 where the published code computes in fp32,
so rounding ties fall the same way."""
import numpy as np


def minmax_params(x, bits, sym):
    """Per-row (scale, zero) of the b-bit min-max affine grid over the columns of x (fp32)."""
    maxq = np.float32(2 ** bits - 1)
    xmin = np.minimum(x.min(axis=1), 0).astype(np.float32)
    xmax = np.maximum(x.max(axis=1), 0).astype(np.float32)
    if sym:
        xmax = np.maximum(np.abs(xmin), xmax)
        xmin = np.where(xmin < 0, -xmax, xmin)
    both_zero = (xmin == 0) & (xmax == 0)
    xmin = np.where(both_zero, np.float32(-1), xmin)
    xmax = np.where(both_zero, np.float32(1), xmax)
    scale = ((xmax - xmin) / maxq).astype(np.float32)
    if sym:
        zero = np.full_like(scale, (maxq + 1) / 2)
    else:
        zero = np.round(-xmin / scale).astype(np.float32)  # numpy rounds half to even, like torch
    return scale, zero


def quantize(w, scale, zero, bits):
    """Codes and values of column w on per-row grids."""
    maxq = np.float32(2 ** bits - 1)
    q = np.clip(np.round(w / scale) + zero, 0, maxq).astype(np.float32)
    return q.astype(np.uint8), (scale * (q - zero)).astype(np.float32)


def gptq(W, H, bits, group_size=-1, sym=False, act_order=False, static_groups=False, damp=0.01, block=128):
    """Returns (codes [rows, cols] in original order, dequantized W, g_idx, scales [n_groups, rows],
    zeros [n_groups, rows])."""
    W = np.array(W, dtype=np.float32)
    H = np.array(H, dtype=np.float32)
    rows, cols = W.shape
    if group_size == -1:
        scale, zero = minmax_params(W, bits, sym)  # per-channel: fitted on W as given
    dead = np.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    if static_groups:
        static = [minmax_params(W[:, i:i + group_size], bits, sym) for i in range(0, cols, group_size)]
    perm = np.arange(cols)
    if act_order:
        perm = np.argsort(-np.diag(H), kind="stable")
        W = W[:, perm]
        H = H[perm][:, perm]
    H = H + np.float32(damp * np.mean(np.diag(H), dtype=np.float64)) * np.eye(cols, dtype=np.float32)
    Hinv = np.linalg.inv(H.astype(np.float64))
    U = np.linalg.cholesky(Hinv).T.astype(np.float32)  # upper factor: Hinv = U^T U

    Q = np.zeros_like(W)
    codes = np.zeros(W.shape, dtype=np.uint8)
    n_groups = 1 if group_size == -1 else (cols + group_size - 1) // group_size
    scales = np.zeros((n_groups, rows), np.float32)
    zeros = np.zeros((n_groups, rows), np.float32)
    group_of = np.zeros(cols, dtype=np.int32)
    if group_size == -1:
        scales[0], zeros[0] = scale, zero
    for i1 in range(0, cols, block):
        i2 = min(i1 + block, cols)
        W1 = W[:, i1:i2].copy()
        Err = np.zeros_like(W1)
        for i in range(i2 - i1):
            j = i1 + i
            if group_size != -1:
                if static_groups:
                    g = perm[j] // group_size
                    scale, zero = static[g]
                else:
                    g = j // group_size
                    if j % group_size == 0:  # fitted on W as updated by earlier blocks
                        scale, zero = minmax_params(W[:, j:j + group_size], bits, sym)
                scales[g], zeros[g] = scale, zero
                group_of[j] = g
            w = W1[:, i]
            c, q = quantize(w, scale, zero, bits)
            codes[:, j], Q[:, j] = c, q
            e = (w - q) / U[j, j]
            W1[:, i:] -= np.outer(e, U[j, j:i2])
            Err[:, i] = e
        W[:, i2:] -= Err @ U[i1:i2, i2:]
    inv = np.argsort(perm)
    g_idx = np.zeros(cols, dtype=np.int32)
    g_idx[perm] = group_of
    return codes[:, inv], Q[:, inv], g_idx, scales, zeros


def objective(W, Q, H):
    D = np.asarray(W, np.float64) - np.asarray(Q, np.float64)
    return float(np.sum((D @ np.asarray(H, np.float64)) * D))
