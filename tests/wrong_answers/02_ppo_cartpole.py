"""Common wrong answers to notebook 02's exercises; each must fail its checker with a hint.

WRONG = {exercise number: [(what is wrong, source that defines the learner's function), ...]}
(exercise numbers count the notebook's Solution blocks from 1; see tests/test_hidden_solutions.py).
"""

WRONG = {
    1: [
        ("no-1-minus-done", """
def my_gae(rewards, values, next_values, terminated, dones, gamma, lam, mask):
    deltas = (rewards + gamma * (1 - terminated) * next_values - values) * mask
    advantages = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        running = (deltas[:, t] + gamma * lam * running) * mask[:, t]  # lost (1 - dones[:, t])
        advantages[:, t] = running
    returns = (advantages + values) * mask
    return advantages, returns
"""),
        ("no-1-minus-terminated", """
def my_gae(rewards, values, next_values, terminated, dones, gamma, lam, mask):
    deltas = (rewards + gamma * next_values - values) * mask  # bootstraps past a terminal state
    advantages = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        running = (deltas[:, t] + gamma * lam * (1 - dones[:, t]) * running) * mask[:, t]
        advantages[:, t] = running
    returns = (advantages + values) * mask
    return advantages, returns
"""),
        ("dones-in-delta", """
def my_gae(rewards, values, next_values, terminated, dones, gamma, lam, mask):
    deltas = (rewards + gamma * (1 - dones) * next_values - values) * mask  # a truncation is not a terminal state
    advantages = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        running = (deltas[:, t] + gamma * lam * (1 - dones[:, t]) * running) * mask[:, t]
        advantages[:, t] = running
    returns = (advantages + values) * mask
    return advantages, returns
"""),
    ],
    2: [
        ("ratio-not-exp", """
def my_clipped_loss(logprobs, old_logprobs, advantages, clip_eps, mask):
    ratio = logprobs - old_logprobs
    surrogate = torch.min(ratio * advantages, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * advantages)
    return -(surrogate * mask).sum() / mask.sum()
"""),
        ("max-not-min", """
def my_clipped_loss(logprobs, old_logprobs, advantages, clip_eps, mask):
    ratio = torch.exp(logprobs - old_logprobs)
    surrogate = torch.max(ratio * advantages, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * advantages)
    return -(surrogate * mask).sum() / mask.sum()
"""),
        ("mean-over-all-positions", """
def my_clipped_loss(logprobs, old_logprobs, advantages, clip_eps, mask):
    ratio = torch.exp(logprobs - old_logprobs)
    surrogate = torch.min(ratio * advantages, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * advantages)
    return -(surrogate * mask).mean()
"""),
    ],
}
