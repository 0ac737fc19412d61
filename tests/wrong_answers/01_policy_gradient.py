"""Common wrong answers to notebook 01's exercises; each must fail its checker with a hint.

WRONG = {exercise number: [(what is wrong, source that defines the learner's function), ...]}
(exercise numbers count the notebook's Solution blocks from 1; see tests/test_hidden_solutions.py).
"""

WRONG = {
    1: [
        ("no-discount", """
def discounted_returns_matrix(rewards, gamma):
    return torch.triu(torch.ones(len(rewards), len(rewards))) @ rewards
"""),
        ("lower-triangle", """
def discounted_returns_matrix(rewards, gamma):
    t = torch.arange(len(rewards))
    exponents = (t[:, None] - t[None, :]).clamp(min=0)
    return torch.tril(gamma ** exponents.to(torch.float32)) @ rewards
"""),
    ],
    2: [
        ("item", """
def reinforce_loss_from_logits(logits, actions, weights):
    logprobs = torch.log_softmax(logits, dim=-1).gather(1, actions[:, None]).squeeze(1)
    return -(logprobs * weights.detach()).mean().item()
"""),
        ("no-grad", """
def reinforce_loss_from_logits(logits, actions, weights):
    with torch.no_grad():
        logprobs = torch.log_softmax(logits, dim=-1).gather(1, actions[:, None]).squeeze(1)
        return -(logprobs * weights).mean()
"""),
        ("weights-not-detached", """
def reinforce_loss_from_logits(logits, actions, weights):
    logprobs = torch.log_softmax(logits, dim=-1).gather(1, actions[:, None]).squeeze(1)
    return -(logprobs * weights).mean()
"""),
        ("no-minus-sign", """
def reinforce_loss_from_logits(logits, actions, weights):
    logprobs = torch.log_softmax(logits, dim=-1).gather(1, actions[:, None]).squeeze(1)
    return (logprobs * weights.detach()).mean()
"""),
        ("softmax-not-log", """
def reinforce_loss_from_logits(logits, actions, weights):
    probs = torch.softmax(logits, dim=-1).gather(1, actions[:, None]).squeeze(1)
    return -(probs * weights.detach()).mean()
"""),
    ],
    3: [
        ("no-baseline-term", """
def bandit_policy_gradient(theta, rewards):
    pi = torch.softmax(theta, dim=0)
    return pi * rewards
"""),
    ],
}
