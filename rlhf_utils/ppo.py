"""The pieces of PPO (Schulman et al., 2017) that do not depend on the task.

Notebook 02 builds them for CartPole and notebook 05 reuses them, unchanged, for a language model.
So every function takes ``(batch, time)`` tensors plus an optional boolean ``mask`` of the same
shape (``True`` = a real step; ``False`` = padding, or a step that must not be learned from), and
GAE takes per-step flags for "the episode ended here". A CartPole rollout is ``(n_envs, n_steps)``;
a batch of generated texts is ``(n_sequences, n_tokens)``.

Equations (t indexes time, the expectation is a mean over the unmasked steps):

- TD error            δ_t = r_t + γ (1 − term_t) V(s_{t+1}) − V(s_t)
- GAE                 Â_t = δ_t + γ λ (1 − done_t) Â_{t+1},   returns R_t = Â_t + V(s_t)
- ratio               r_t(θ) = π_θ(a_t|s_t) / π_θ_old(a_t|s_t) = exp(log π_θ − log π_θ_old)
- clipped surrogate   L^CLIP(θ) = E[min(r_t Â_t, clip(r_t, 1 − ε, 1 + ε) Â_t)]
- clipped value loss  L^V = ½ E[max((V − R)², (V_old + clip(V − V_old, −ε_v, ε_v) − R)²)]
- entropy             H = E[−Σ_a π(a|s) log π(a|s)]
- approx-KL           KL(π_old ‖ π_θ) ≈ E[(r − 1) − log r]
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

__all__ = [
    "approx_kl",
    "clip_fraction",
    "clipped_surrogate_loss",
    "entropy_bonus",
    "explained_variance",
    "gae",
    "masked_mean",
    "normalize_advantages",
    "ppo_diagnostics",
    "value_loss",
]


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """E[x] over the unmasked entries: Σ mask·x / Σ mask (0 when nothing is unmasked).

    Masked entries contribute nothing, not even a NaN or an infinity: they are replaced by 0
    before summing, so their gradient is exactly zero. ``mask=None`` is the plain mean.
    """
    _require_tensor("x", x, floating=True)
    if mask is None:
        return x.mean()
    m = _as_mask(mask, x)
    return _zero_where_masked(x, m).sum() / m.sum().clamp(min=1)


# --------------------------------------------------------------------------- advantages
def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    dones: torch.Tensor,
    *,
    gamma: float,
    lam: float,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al., 2016, eq. 16) with episode ends:

    δ_t = r_t + γ (1 − terminated_t) V(s_{t+1}) − V(s_t)
    Â_t = δ_t + γ λ (1 − done_t) Â_{t+1}          (computed backwards in time)
    R_t = Â_t + V(s_t)                              (the value-function target)

    All inputs are ``(batch, time)``. ``values[b, t]`` is V(s_t) and ``next_values[b, t]`` is V(s_{t+1}),
    the observation that *followed* step t (the final one when the episode ended at t).
    ``terminated``: s_{t+1} is a true terminal state (the pole fell; the text ended), so nothing is
    bootstrapped from it. ``dones``: the episode ended at t for any reason; it stops the recursion so no
    advantage leaks into the previous episode. A time-limit truncation has ``done=1, terminated=0``: it
    still bootstraps, because the time limit is not part of the state. ``mask`` (optional, bool):
    ``False`` marks a step that is not a real transition (padding; a vector environment's auto-reset
    step); it gets advantage 0 and passes nothing back. Returns ``(advantages, returns)``, without gradient.
    """
    m, not_terminal, not_done = _gae_inputs(rewards, values, next_values, terminated, dones, gamma, lam, mask)
    with torch.no_grad():
        deltas = torch.where(m, rewards + gamma * not_terminal * next_values - values, 0.0)  # masked: may be NaN
        advantages = torch.zeros_like(rewards)
        running = torch.zeros_like(rewards[:, 0])
        for t in reversed(range(rewards.shape[1])):
            running = (deltas[:, t] + gamma * lam * not_done[:, t] * running) * m[:, t]
            advantages[:, t] = running
        returns = torch.where(m, advantages + values, 0.0)
    return advantages, returns


def normalize_advantages(
    advantages: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-8
) -> torch.Tensor:
    """Advantage normalisation ("whitening"): Â ← (Â − mean Â) / (std Â + eps) over unmasked entries.

    Masked entries come back as 0. With fewer than two unmasked entries only the mean is removed.
    """
    _require_tensor("advantages", advantages, floating=True)
    m = _optional_mask(mask, advantages)
    centred = _zero_where_masked(advantages - masked_mean(advantages, m), m)
    n = centred.numel() if m is None else int(m.sum())
    if n < 2:
        return centred
    std = torch.sqrt((centred**2).sum() / (n - 1))
    return centred / (std + eps)


# --------------------------------------------------------------------------- losses
def clipped_surrogate_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    *,
    clip_eps: float | None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """The PPO policy loss −L^CLIP(θ) (Schulman et al., 2017, eq. 7), to *minimise*.

    L^CLIP(θ) = E[min(r_t(θ) Â_t, clip(r_t(θ), 1 − ε, 1 + ε) Â_t)],  r_t = exp(logprobs − old_logprobs)

    ``logprobs`` = log π_θ(a_t|s_t) (with gradient), ``old_logprobs`` = log π_θ_old(a_t|s_t) from the
    rollout, ``advantages`` = Â_t; all the same shape, ``(batch, time)`` for sequences.
    ``clip_eps=None`` gives the unclipped surrogate −E[r_t Â_t] (the "no clipping" ablation).
    The gradient is zero where the clip is active: r > 1+ε with Â > 0, and r < 1−ε with Â < 0.
    """
    for name, x in (("logprobs", logprobs), ("old_logprobs", old_logprobs), ("advantages", advantages)):
        _require_tensor(name, x, floating=True)
    _require_same_shape({"logprobs": logprobs, "old_logprobs": old_logprobs, "advantages": advantages})
    if clip_eps is not None and not clip_eps > 0:
        raise ValueError(f"clip_eps must be > 0 (or None for no clipping), got {clip_eps}.")
    m = _optional_mask(mask, logprobs)
    # masked steps may hold anything (padding): give them ratio 1 and advantage 0 before exp/multiply
    ratio = torch.exp(_zero_where_masked(logprobs - old_logprobs.detach(), m))
    adv = _zero_where_masked(advantages.detach(), m)
    surrogate = ratio * adv
    if clip_eps is not None:
        surrogate = torch.min(surrogate, torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * adv)
    return -masked_mean(surrogate, m)


def value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    *,
    clip_eps: float | None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """The clipped value loss L^V, to minimise (the "value clipping" of PPO2 / OpenAI baselines).

    L^V = ½ E[max((V − R)², (V_old + clip(V − V_old, −ε, ε) − R)²)]

    ``values`` = V_θ(s_t) now, ``old_values`` = V(s_t) at rollout time, ``returns`` = R_t, the GAE
    target. ``clip_eps=None`` gives the plain squared error ½ E[(V − R)²]. Note ε here is in the
    units of the return, not a ratio.
    """
    for name, x in (("values", values), ("old_values", old_values), ("returns", returns)):
        _require_tensor(name, x, floating=True)
    _require_same_shape({"values": values, "old_values": old_values, "returns": returns})
    m = _optional_mask(mask, values)
    v = _zero_where_masked(values, m)
    target = _zero_where_masked(returns.detach(), m)
    loss = (v - target) ** 2
    if clip_eps is not None:
        old = _zero_where_masked(old_values.detach(), m)
        v_clipped = old + torch.clamp(v - old, -clip_eps, clip_eps)
        loss = torch.max(loss, (v_clipped - target) ** 2)
    return 0.5 * masked_mean(loss, m)


def entropy_bonus(logits: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean entropy H = E[−Σ_a π(a|s) log π(a|s)] of a categorical policy, from its logits.

    ``logits`` has shape ``(batch, time, n_actions)`` (or ``(..., n_actions)``); ``mask`` has the
    shape without the last axis. The loss *adds* ``−c_H · H`` so that higher entropy is rewarded.
    """
    _require_tensor("logits", logits, floating=True)
    if logits.dim() < 2:
        raise ValueError(f"`logits` must have an action axis last, e.g. (batch, time, n_actions); got shape {tuple(logits.shape)}.")
    logp = torch.log_softmax(logits, dim=-1)
    entropy = -(logp.exp() * logp).sum(-1)
    if mask is not None:
        _require_tensor("mask", mask)
        if mask.shape != entropy.shape:
            raise ValueError(
                f"`mask` has shape {tuple(mask.shape)}; expected {tuple(entropy.shape)} "
                f"(the shape of `logits` {tuple(logits.shape)} without its last, action, axis)."
            )
    return masked_mean(entropy, mask)


# --------------------------------------------------------------------------- diagnostics
def approx_kl(logprobs: torch.Tensor, old_logprobs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Approximate KL(π_old ‖ π_θ) on the sampled actions: E[(r − 1) − log r], r = π_θ/π_old.

    This is the low-variance, always non-negative estimator ("k3") that CleanRL and TRL log. It
    grows like r itself - exponentially in log r - when the new policy puts far more probability
    on a sampled action than the old one did, so one update step too large shows up here first.
    """
    _require_same_shape({"logprobs": _require_tensor("logprobs", logprobs, floating=True),
                         "old_logprobs": _require_tensor("old_logprobs", old_logprobs, floating=True)})
    m = _optional_mask(mask, logprobs)
    with torch.no_grad():
        log_ratio = _zero_where_masked(logprobs - old_logprobs, m)
        return masked_mean(torch.expm1(log_ratio) - log_ratio, m)


def clip_fraction(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, *, clip_eps: float, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Fraction of unmasked steps whose ratio left the trust region: E[1(|r − 1| > ε)]."""
    _require_same_shape({"logprobs": _require_tensor("logprobs", logprobs, floating=True),
                         "old_logprobs": _require_tensor("old_logprobs", old_logprobs, floating=True)})
    m = _optional_mask(mask, logprobs)
    with torch.no_grad():
        ratio = torch.exp(_zero_where_masked(logprobs - old_logprobs, m))
        return masked_mean(((ratio - 1.0).abs() > clip_eps).to(logprobs.dtype), m)


def explained_variance(
    values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Explained variance 1 − Var[R − V] / Var[R] of the value predictions (over unmasked steps).

    1 = perfect, 0 = no better than predicting the mean return, < 0 = worse than that.
    NaN when the returns have no variance (the ratio is undefined).
    """
    _require_same_shape({"values": _require_tensor("values", values, floating=True),
                         "returns": _require_tensor("returns", returns, floating=True)})
    m = _optional_mask(mask, values)
    with torch.no_grad():
        def var(x: torch.Tensor) -> torch.Tensor:
            mean = masked_mean(x, m)
            return masked_mean((x - mean) ** 2, m)

        var_returns = var(returns)
        if var_returns <= 0:
            return torch.tensor(float("nan"), dtype=values.dtype)
        return 1.0 - var(returns - values) / var_returns


def ppo_diagnostics(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    values: torch.Tensor,
    returns: torch.Tensor,
    *,
    clip_eps: float,
    mask: torch.Tensor | None = None,
) -> dict[str, float]:
    """The numbers people read during PPO: approx-KL, clip fraction and explained variance."""
    return {
        "approx_kl": float(approx_kl(logprobs, old_logprobs, mask)),
        "clip_fraction": float(clip_fraction(logprobs, old_logprobs, clip_eps=clip_eps, mask=mask)),
        "explained_variance": float(explained_variance(values, returns, mask)),
    }


# --------------------------------------------------------------------------- input checks
# After the maths, so a reader meets the equations first. Each error says what was wrong and how to fix it.
def _require_tensor(name: str, x: object, *, floating: bool = False) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor, got {type(x).__name__}. Wrap it with torch.as_tensor(...).")
    if floating and not x.is_floating_point():
        raise TypeError(
            f"`{name}` must be a floating-point tensor (e.g. torch.float32), got dtype {x.dtype}. "
            f"Convert it with `{name}.float()`."
        )
    return x


def _require_same_shape(tensors: Mapping[str, torch.Tensor], *, two_d: bool = False) -> torch.Size:
    """All tensors must share one shape (``(batch, time)`` when ``two_d``); say which one differs."""
    names = list(tensors)
    first = names[0]
    shape = tensors[first].shape
    if two_d and len(shape) != 2:
        raise ValueError(
            f"`{first}` must be a 2-D (batch, time) tensor, got shape {tuple(shape)}. "
            "For a single trajectory use x.unsqueeze(0)."
        )
    for name in names[1:]:
        if tensors[name].shape != shape:
            raise ValueError(
                f"`{name}` has shape {tuple(tensors[name].shape)} but `{first}` has shape {tuple(shape)}; "
                f"expected every input to have shape {tuple(shape)}"
                + (" (batch, time)." if two_d else ".")
            )
    return shape


def _as_mask(mask: torch.Tensor | None, like: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """A boolean mask with the shape of ``like`` (all ``True`` when ``mask`` is None)."""
    if mask is None:
        return torch.ones_like(like, dtype=torch.bool)
    _require_tensor(name, mask)
    if mask.shape != like.shape:
        raise ValueError(
            f"`{name}` has shape {tuple(mask.shape)}; expected {tuple(like.shape)}, the shape of the data it masks."
        )
    if mask.dtype == torch.bool:
        return mask
    if mask.is_floating_point() or mask.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        if not torch.all((mask == 0) | (mask == 1)):
            raise ValueError(f"`{name}` must hold only 0/1 (or True/False) values.")
        return mask.bool()
    raise TypeError(f"`{name}` must be a bool (or 0/1) tensor, got dtype {mask.dtype}.")


def _optional_mask(mask: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
    """``None`` (no mask: every entry counts) or a checked boolean mask shaped like ``like``."""
    return None if mask is None else _as_mask(mask, like)


def _as_flags(name: str, flags: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-step done flags as a float 0/1 tensor with the shape of ``like``."""
    flags = _as_mask(_require_tensor(name, flags), like, name)
    return flags.to(like.dtype)


def _zero_where_masked(x: torch.Tensor, mask: torch.Tensor | None, fill: float = 0.0) -> torch.Tensor:
    """``x`` with masked entries replaced by ``fill`` (``x`` itself when there is no mask)."""
    if mask is None:
        return x
    return torch.where(mask, x, torch.full((), fill, dtype=x.dtype, device=x.device))


def _gae_inputs(rewards, values, next_values, terminated, dones, gamma, lam, mask):
    """Check :func:`gae`'s inputs; return the boolean mask and the two flags as 0/1 tensors shaped like ``rewards``."""
    for name, x in (("rewards", rewards), ("values", values), ("next_values", next_values)):
        _require_tensor(name, x, floating=True)
    _require_same_shape(
        {"rewards": rewards, "values": values, "next_values": next_values,
         "terminated": _require_tensor("terminated", terminated), "dones": _require_tensor("dones", dones)},
        two_d=True,
    )
    if not (0.0 <= gamma <= 1.0 and 0.0 <= lam <= 1.0):
        raise ValueError(f"gamma and lam must lie in [0, 1], got gamma={gamma}, lam={lam}.")
    return _as_mask(mask, rewards), 1.0 - _as_flags("terminated", terminated, rewards), 1.0 - _as_flags("dones", dones, rewards)
