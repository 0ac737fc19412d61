"""Common wrong answers to notebook 07's exercises: each must fail its checker with a hint (tests/test_hidden_solutions.py)."""

WRONG = {
    1: [
        ("se-of-the-peak-only", """
def my_drop_is_significant(means, ses, k=2.0):
    i = int(np.argmax(means))
    return i < len(means) - 1 and means[i] - means[-1] > k * ses[i]
"""),
        ("standard-errors-added", """
def my_drop_is_significant(means, ses, k=2.0):
    i = int(np.argmax(means))
    return i < len(means) - 1 and means[i] - means[-1] > k * (ses[i] + ses[-1])
"""),
        ("se-of-the-last-point-only", """
def my_drop_is_significant(means, ses, k=2.0):
    i = int(np.argmax(means))
    return i < len(means) - 1 and means[i] - means[-1] > k * ses[-1]
"""),
        ("drop-from-the-first-point", """
def my_drop_is_significant(means, ses, k=2.0):
    return means[0] - means[-1] > k * np.hypot(ses[0], ses[-1])
"""),
        ("variances-not-squared", """
def my_drop_is_significant(means, ses, k=2.0):
    i = int(np.argmax(means))
    return i < len(means) - 1 and means[i] - means[-1] > k * np.sqrt(ses[i] + ses[-1])
"""),
    ],
    2: [
        ("ties-count-as-losses", """
def my_win_rate(gold_scores, base_gold):
    return float((gold_scores > base_gold).mean())
"""),
        ("ties-count-as-wins", """
def my_win_rate(gold_scores, base_gold):
    return float((gold_scores >= base_gold).mean())
"""),
    ],
}
