"""Reusable pieces of the hands-on RLHF course, one module per concept, in the order the course builds them.

A module may import only modules above it in :data:`PIPELINE` (``tests/test_package_order.py`` checks
this), so reading the package top to bottom never needs a concept the course has not taught yet.

======================  ========  ==============================================================
module                  notebook  concept
======================  ========  ==============================================================
``profiles``            all       the ``quick``/``full`` switch
``paths``               all       where the shipped data and the learner's cache live
``runtime``             all       ``setup()``: seeds, device, profile banner
``exercises``           all       the exercise checker
``plotting``            01, 02    learning curves over seeds
``policy_gradient``     01        REINFORCE: returns, the policy-gradient loss, a trainer
``ppo``                 02, 05    PPO's task-free pieces: GAE, clipped losses, diagnostics
``cartpole_ppo``        02        PPO on vectorised CartPole
``lm_task``             03-07     the language-model task: prompts, response length, temperature
``models``              03-07     loading the base GPT-2 (course model or ``gpt2``)
``pretraining``         03        byte-level BPE and next-token pretraining
``gold``                03-07     the hidden gold score the simulated human follows
``generation``          03-07     sampling and scoring log-probs, position ids, frozen copies
``feedback_store``      04, 07    judgements as records in a crash-safe JSONL file
``feedback``            04, 07    labelling sessions, the simulated labeller, agreement, pairs
``labelling``           04, 07    the labelling widget
``classroom``           04        a class's labels: export, merge, agreement (Cohen's, Fleiss' κ)
``reward_model``        04-07     Bradley-Terry reward models: train, score, save, load
``evaluation``          05-07     the one evaluator of every policy (gold, KL, diversity, win-rate)
``lm_ppo``              05        PPO for language models
``dpo``                 06        direct preference optimisation
``best_of_n``           06        best-of-N sampling and its KL
``overoptimization``    07        over-optimisation, distribution shift, a second round
``trl_trainers``        04, 06    TRL's trainers on the course's task (CPU arguments, prompt rule)
``results``             05-07     committed result files; live re-runs judged against them
======================  ========  ==============================================================

``evaluation`` comes before the methods it measures: it imports none of them, and ``best_of_n``
reports its KL estimate with the evaluator's standard error.
"""

# Before anything imports a Hugging Face library: they read their offline switches at import.
from .profiles import profile_at_import as _profile_at_import, use_network as _use_network

_use_network(_profile_at_import())

from .exercises import check, check_value  # noqa: E402
from .profiles import PROFILES, Profile, UnknownProfileError, get_profile  # noqa: E402
from .runtime import CourseSetup, setup  # noqa: E402

PIPELINE = (
    "profiles", "paths", "runtime", "exercises", "plotting", "policy_gradient", "ppo", "cartpole_ppo",
    "lm_task", "models", "pretraining", "gold", "generation", "feedback_store", "feedback", "labelling",
    "classroom", "reward_model", "evaluation", "lm_ppo", "dpo", "best_of_n", "overoptimization", "trl_trainers", "results",
)
"""The package's modules in pipeline order: each imports only modules before it."""

__all__ = [
    "PIPELINE",
    "PROFILES",
    "CourseSetup",
    "Profile",
    "UnknownProfileError",
    "check",
    "check_value",
    "get_profile",
    "setup",
]
