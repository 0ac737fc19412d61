# %% [markdown]
# ### 4.4 A whole class's labels
# In a workshop every student labels in their own notebook and hands in one file; the teacher merges them and trains
# one reward model on the pool (README, "Running this as a workshop"). Pooling only helps if people judged the same
# thing, so the first question is how much they agree. Raw agreement flatters: two people who both pick "A" 90% of the
# time agree 82% by chance. **Cohen's κ** corrects for that, for two people:
#
# $$\kappa = \frac{p_o - p_e}{1 - p_e},$$
#
# where $p_o$ is the share of shared pairs on which they gave the same answer (the same preferred *text*, or both a
# tie) and $p_e$ the share two people with their answer frequencies would match by chance. $\kappa = 1$ is perfect
# agreement, $0$ chance, below $0$ systematic disagreement. **Fleiss' κ** extends it to a whole group, on the pairs
# everyone labelled. Every session shows the same shared pairs first (same model, same seed), so there are some.
#
# Here three simulated students stand in for a class, by your criterion: a careful one (τ = 0.1), a hasty one
# (τ = 0.5), and one who misread the instruction and judged by the opposite criterion. Each labels the shared pairs,
# then pairs of their own, in a notebook of their own, and exports their file. A teacher sets `CLASS_LABELS_DIR` to
# the folder of collected files instead (and students run the export cell below).

# %%
# Your own file for the teacher: YOUR_NAME's labels of this run's pairs (written only when you labelled some).
if not simulated and my_labels:
    print("hand in this file:", classroom.export_labels(store, paths.cache_dir() / "export", YOUR_NAME, model=MODEL_NAME))
else:
    print("no labels of yours to export (the simulated stand-in labelled this run)")

# %%
CLASS_LABELS_DIR = None   # a teacher: the folder of the files students handed in; None: three simulated students
N_SHARED = 16             # pairs every student sees first
ROOM = criterion if criterion in gold.NAMED_CRITERIA else "positive"   # "own" has no simulated student
OPPOSITE = {"positive": "negative", "negative": "positive"}[ROOM]

simulated_class = CLASS_LABELS_DIR is None
if simulated_class:
    class_dir = Path(tempfile.mkdtemp(prefix="class_labels_"))
    shared = train_pairs_all[N_MY_PAIRS : N_MY_PAIRS + N_SHARED]
    students = [("ana", 0.1, ROOM), ("ben", 0.5, ROOM), ("cat", 0.1, OPPOSITE)]   # name, noise τ, what they follow
    for k, (name, tau, follows) in enumerate(students):
        own = train_pairs_all[N_MY_PAIRS + N_SHARED + 30 * k : N_MY_PAIRS + N_SHARED + 30 * (k + 1)]
        their_store = FeedbackStore(class_dir / f"{name}-notebook" / "labels.jsonl")   # each on their own machine
        person = SimulatedLabeller(name=name, temperature=tau, criterion=follows, seed=course.seed + k)
        person.label(LabellingSession(their_store, shared + own, model=MODEL_NAME, labeller=name, criterion=ROOM))
        classroom.export_labels(their_store, class_dir / "handed-in", name)
    CLASS_LABELS_DIR = class_dir / "handed-in"
class_files = sorted(Path(CLASS_LABELS_DIR).glob("*" + classroom.EXPORT_SUFFIX))
merged = classroom.merge_label_files(class_files, model=MODEL_NAME, criterion=ROOM)
print(f"merged {len(merged.labels)} labels from {len(class_files)} files: {merged.files} "
      f"({merged.duplicates} duplicates dropped)")

# %%
agreement = classroom.class_agreement(merged.labels)
for (a, b), (kappa, n) in agreement.pairwise.items():
    print(f"Cohen's κ  {a} vs {b}: {kappa:+.2f}  on {n} shared pairs")
print(f"Fleiss' κ  all {len(merged.labellers)}: {agreement.fleiss:+.2f}  on {agreement.shared_pairs} pairs")

# %% [markdown]
# Now one reward model per student, one on the whole pool, and one on the pool without the student whose κ with the
# others is lowest, each warm-started from the shipped model and measured against the room's gold ordering on the
# held-out pairs, as in section 4.3.

# %%
def class_model(labels):
    return reward_model.learner_reward_model(start_from, feedback.preference_pairs(labels), ROOM,
                                             heldout=(heldout_prompts, held_a, held_b), seed=course.seed)

def mean_kappa(name):
    return np.mean([k for pair, (k, _) in agreement.pairwise.items() if name in pair])

outlier = min(merged.labellers, key=mean_kappa)
groups = {**{f"{name} alone": labels for name, labels in merged.by_labeller().items()},
          "everyone pooled": merged.labels,
          f"pooled without {outlier}": [r for r in merged.labels if r.labeller != outlier]}
class_accuracy = {}
for group, labels in tqdm(groups.items(), desc="class reward models"):
    class_accuracy[group] = class_model(labels).info["evaluation"]["gold_accuracy"]
    print(f"{group:26s} {len(feedback.preference_pairs(labels)):4d} A/B labels  "
          f"held-out accuracy vs {ROOM!r} gold {class_accuracy[group]:.3f}")

# %% [markdown]
# Read it against κ. The student with the lowest κ (printed above) judged something else: their own model orders
# the held-out pairs *against* the room's criterion (its accuracy is below ½). The two who agree outvote them, so
# compare the pooled rows: how much one misreader costs a pool depends on how many agree against them. More labels
# help less than you might expect, because section 4.2's curve is already flat at these sizes; what pooling buys is
# that one person's noise and quirks average out. In a real class low κ is a conversation, not a verdict: the
# instruction may have been ambiguous.

# %%
# Result check (simulated class): κ singles out the misreading student, whose own model is worse than chance,
# and the pool of the two who agree is a usable reward model.
if simulated_class:
    assert outlier == "cat", f"the lowest agreement should be the student who judged by {OPPOSITE!r}: {agreement}"
    assert class_accuracy["cat alone"] < 0.5, class_accuracy
    assert class_accuracy["pooled without cat"] >= 0.70, class_accuracy
