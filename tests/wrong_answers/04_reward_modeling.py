"""Common wrong answers to notebook 04's exercises; each must fail its checker with a hint (tests/test_hidden_solutions.py)."""

WRONG = {
    1: [
        ("naive-log-sigmoid", """
def my_bt_loss(r_chosen, r_rejected, target):
    delta = r_chosen - r_rejected
    return -(target * torch.log(torch.sigmoid(delta)) + (1 - target) * torch.log(torch.sigmoid(-delta))).mean()
"""),
        ("naive-log-one-plus-exp", """
def my_bt_loss(r_chosen, r_rejected, target):
    delta = r_chosen - r_rejected
    return (target * torch.log1p(torch.exp(-delta)) + (1 - target) * torch.log1p(torch.exp(delta))).mean()
"""),
        ("tie-term-left-out", """
def my_bt_loss(r_chosen, r_rejected, target):
    return -(target * F.logsigmoid(r_chosen - r_rejected)).mean()
"""),
        ("sum-not-mean", """
def my_bt_loss(r_chosen, r_rejected, target):
    delta = r_chosen - r_rejected
    return -(target * F.logsigmoid(delta) + (1 - target) * F.logsigmoid(-delta)).sum()
"""),
    ],
    2: [
        ("gold-ties-kept", """
def my_gold_accuracy(scores_a, scores_b, gold_a, gold_b):
    same = (scores_a - scores_b > 0) == (gold_a - gold_b > 0)
    return float(same.mean()), len(same)
"""),
    ],
    3: [
        ("rng-made-once-outside", """
_rng = random.Random(0)

def my_click_rate(pairs, position_bias):
    clicks = [feedback.simulate_implicit_feedback(p, _rng, position_bias=position_bias)[0] for p in pairs]
    return sum(c == "A" for c in clicks) / len(clicks)
"""),
        ("count-not-share", """
def my_click_rate(pairs, position_bias):
    rng = random.Random(0)
    return sum(feedback.simulate_implicit_feedback(p, rng, position_bias=position_bias)[0] == "A" for p in pairs)
"""),
        ("position-bias-ignored", """
def my_click_rate(pairs, position_bias):
    rng = random.Random(0)
    clicks = [feedback.simulate_implicit_feedback(p, rng)[0] for p in pairs]
    return sum(c == "A" for c in clicks) / len(clicks)
"""),
    ],
}
