"""The quick profile never touches the network: setup(), both models, a TRL reward step and a DPO step.

A child process replaces Python's socket entry points (``connect``, ``connect_ex``,
``getaddrinfo``, ``gethostbyname``) with a guard that records every attempt and refuses it. The
child imports ``rlhf_utils`` with no offline variable set in its environment (importing the package
must be enough), runs ``setup()``, loads the course GPT-2 and the shipped reward model, asks for a
hub id that is not cached (which must fail without trying the network), and runs one step of TRL's
``RewardTrainer`` and one of ``DPOTrainer`` (they send telemetry unless switched off).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHILD = textwrap.dedent(
    """
    import json, socket, sys
    sys.path[:0] = sys.argv[1:]  # the package to test, then the repository (for tests.tiny)
    attempts = []

    def refuse(what, detail):
        attempts.append(f"{what} {detail}"[:160])
        raise OSError(f"network blocked by the test: {what}")

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            refuse("connect", address)
        return real_connect(self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            refuse("connect_ex", address)
        return real_connect_ex(self, address)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    socket.getaddrinfo = lambda host, *a, **k: refuse("getaddrinfo", host)
    socket.gethostbyname = lambda host: refuse("gethostbyname", host)

    import rlhf_utils
    from rlhf_utils.dpo import DPOTrainingConfig
    from rlhf_utils.feedback import PreferencePair
    from rlhf_utils.models import load_base_model
    from rlhf_utils.reward_model import RewardTrainingConfig, init_reward_model, load_reward_model
    from rlhf_utils.trl_trainers import train_dpo_with_trl, train_reward_model_with_trl
    from tests.tiny import tiny_lm, tiny_tokenizer

    course = rlhf_utils.setup(seed=0, verbose=False)
    assert course.profile.offline, course.profile
    model, tokenizer = load_base_model()
    rm = load_reward_model(prefer_learner=False, verbose=False)
    from transformers import AutoTokenizer
    try:
        AutoTokenizer.from_pretrained("gpt2")  # not in the (empty) cache: must fail without a connection
        hub = "loaded"
    except OSError:
        hub = "refused"
    tok = tiny_tokenizer()
    pairs = [PreferencePair("This movie", " was great fun.", " was boring."),
             PreferencePair("The story", " is lovely.", " is dull.")]
    reward_log = train_reward_model_with_trl(init_reward_model(tiny_lm(tok), tok), pairs,
                                             RewardTrainingConfig(epochs=1, batch_size=2), progress=False)
    dpo_log = train_dpo_with_trl(tiny_lm(tok), tiny_lm(tok), tok, pairs,
                                 DPOTrainingConfig(epochs=1, batch_size=2, warmup_steps=0), progress=False)
    import time; time.sleep(1)  # telemetry is sent from a background thread
    print("RESULT", json.dumps({"attempts": attempts, "hub": hub, "reward_steps": len(reward_log),
                                "dpo_steps": len(dpo_log)}))
    """
)


def run_guarded(tmp_path: Path, package_root: Path = ROOT) -> dict:
    """Run the child above; returns its attempts and what it did."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "TRANSFORMERS_")) and k not in ("RLHF_PROFILE", "PYTHONPATH")}
    env |= {"HF_HOME": str(tmp_path / "hf-home"), "RLHF_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", CHILD, str(package_root), str(ROOT)], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"the child failed (exit {out.returncode}):\n{out.stderr[-4000:]}"
    return json.loads(lines[-1][len("RESULT "):])


@pytest.mark.slow
def test_quick_profile_makes_no_connection_attempt(tmp_path):
    result = run_guarded(tmp_path)
    assert result["reward_steps"] >= 1 and result["dpo_steps"] >= 1, result  # both trainers really ran
    assert result["hub"] == "refused", result
    assert result["attempts"] == [], f"{len(result['attempts'])} network attempt(s): {result['attempts']}"


def test_the_guard_sees_an_attempt(tmp_path):
    """The guard itself works: a plain lookup from the child is recorded (so 0 above means 0)."""
    code = CHILD.split("import rlhf_utils")[0] + textwrap.dedent(
        """
        try:
            socket.create_connection(("example.org", 80), timeout=1)
        except OSError:
            pass
        print("RESULT", json.dumps({"attempts": attempts}))
        """
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, timeout=60)
    attempts = json.loads(out.stdout.split("RESULT ", 1)[1])["attempts"]
    assert attempts and attempts[0].startswith("getaddrinfo example.org"), attempts


def test_full_profile_after_import_gets_the_hub_back_and_says_what_it_downloads(tmp_path):
    """Imported in the quick profile (offline), then setup(profile="full"): online again, in one line."""
    code = textwrap.dedent(
        """
        import os
        import rlhf_utils
        import huggingface_hub.constants as hub
        assert hub.HF_HUB_OFFLINE and os.environ["HF_HUB_OFFLINE"] == "1"
        rlhf_utils.setup(profile="full")
        print("ONLINE", hub.HF_HUB_OFFLINE is False and "HF_HUB_OFFLINE" not in os.environ)
        rlhf_utils.setup(profile="quick", verbose=False)
        print("OFFLINE", hub.HF_HUB_OFFLINE is True and os.environ["HF_HUB_OFFLINE"] == "1")
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_")) and k != "RLHF_PROFILE"}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "ONLINE True" in out.stdout and "OFFLINE True" in out.stdout, out.stdout + out.stderr
    download_lines = [line for line in out.stdout.splitlines() if "downloads gpt2" in line]
    assert len(download_lines) == 1 and "IMDB" in download_lines[0], out.stdout


def test_full_profile_keeps_an_offline_switch_the_learner_set(tmp_path):
    code = "import rlhf_utils; rlhf_utils.setup(profile='full')"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))} | {"HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "HF_HUB_OFFLINE set in your environment" in out.stdout and "unset it" in out.stdout, out.stdout + out.stderr
