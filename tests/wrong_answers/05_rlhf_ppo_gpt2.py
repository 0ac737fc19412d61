"""Common wrong answers to notebook 05's exercises; each must fail its checker with a hint (tests/test_hidden_solutions.py)."""

WRONG = {
    1: [
        ("score-on-every-token", """
def my_per_token_rewards(scores, logprobs, ref_logprobs, beta):
    return -beta * (logprobs - ref_logprobs) + scores[:, None]
"""),
        ("score-on-the-first-token", """
def my_per_token_rewards(scores, logprobs, ref_logprobs, beta):
    rewards = -beta * (logprobs - ref_logprobs)
    rewards[:, 0] += scores
    return rewards
"""),
        ("kl-penalty-with-the-wrong-sign", """
def my_per_token_rewards(scores, logprobs, ref_logprobs, beta):
    rewards = beta * (logprobs - ref_logprobs)
    rewards[:, -1] += scores
    return rewards
"""),
    ],
    2: [
        ("k1-instead-of-k3", """
def my_k3(logprobs, ref_logprobs):
    return (logprobs - ref_logprobs).sum(-1)
"""),
        ("ratio-upside-down", """
def my_k3(logprobs, ref_logprobs):
    log_rho = logprobs - ref_logprobs
    return (torch.expm1(log_rho) - log_rho).sum(-1)
"""),
        ("per-token-not-summed", """
def my_k3(logprobs, ref_logprobs):
    log_rho = ref_logprobs - logprobs
    return torch.expm1(log_rho) - log_rho
"""),
    ],
    3: [
        ("error-not-clipped", """
def my_adaptive_beta(beta, kl, target, n, horizon):
    return beta * (1 + (kl / target - 1) * n / horizon)
"""),
        ("n-over-horizon-left-out", """
def my_adaptive_beta(beta, kl, target, n, horizon):
    return beta * (1 + min(max(kl / target - 1, -0.2), 0.2))
"""),
        ("beta-moves-the-wrong-way", """
def my_adaptive_beta(beta, kl, target, n, horizon):
    return beta * (1 - min(max(kl / target - 1, -0.2), 0.2) * n / horizon)
"""),
    ],
}
