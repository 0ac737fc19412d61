"""Common wrong answers to notebook 06's exercises; each must fail its checker with a hint (tests/test_hidden_solutions.py)."""

WRONG = {
    1: [
        ("beta-left-out", """
def my_dpo_loss(pi_w, pi_l, ref_w, ref_l, beta):
    return -F.logsigmoid((pi_w - ref_w) - (pi_l - ref_l)).mean()
"""),
        ("chosen-and-rejected-swapped", """
def my_dpo_loss(pi_w, pi_l, ref_w, ref_l, beta):
    return -F.logsigmoid(beta * ((pi_l - ref_l) - (pi_w - ref_w))).mean()
"""),
        ("reference-left-out", """
def my_dpo_loss(pi_w, pi_l, ref_w, ref_l, beta):
    return -F.logsigmoid(beta * (pi_w - pi_l)).mean()
"""),
    ],
    2: [
        ("log-N-only", """
def my_bon_kl_bound(n):
    return np.log(n)
"""),
        ("minus-N-minus-1", """
def my_bon_kl_bound(n):
    return np.log(n) - (n - 1)
"""),
    ],
    3: [
        ("ties-counted-as-preferred", """
def my_implicit_accuracy(pi_w, pi_l, ref_w, ref_l):
    return ((pi_w - ref_w) >= (pi_l - ref_l)).float().mean().item()
"""),
        ("reference-left-out", """
def my_implicit_accuracy(pi_w, pi_l, ref_w, ref_l):
    return (pi_w > pi_l).float().mean().item()
"""),
        ("chosen-and-rejected-swapped", """
def my_implicit_accuracy(pi_w, pi_l, ref_w, ref_l):
    return ((pi_l - ref_l) > (pi_w - ref_w)).float().mean().item()
"""),
        ("count-not-share", """
def my_implicit_accuracy(pi_w, pi_l, ref_w, ref_l):
    return float(((pi_w - ref_w) > (pi_l - ref_l)).sum())
"""),
    ],
}
