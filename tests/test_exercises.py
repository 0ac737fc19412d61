"""The exercise checker: right is right, wrong is wrong, a crash is reported without a traceback."""

import torch

from rlhf_utils import check, check_value


def reference(x: torch.Tensor) -> torch.Tensor:
    return 2 * x


CASES = [torch.tensor([1.0, 2.0]), torch.tensor([-3.0])]


def test_right_answer_passes(capsys):
    assert check(lambda x: x + x, reference, CASES, name="double") is True
    out = capsys.readouterr().out
    assert "double" in out and "all 2 cases pass" in out


def test_wrong_answer_is_reported_as_wrong(capsys):
    assert check(lambda x: x * 3, reference, CASES, name="double") is False
    out = capsys.readouterr().out
    assert "case 1" in out and "expected" in out and "got" in out
    assert "pass" not in out


def test_wrong_shape_is_reported(capsys):
    assert check(lambda x: (2 * x).sum(), reference, CASES, name="double") is False
    assert "shape differs" in capsys.readouterr().out


def test_not_implemented_stub(capsys):
    def stub(x):
        raise NotImplementedError

    assert check(stub, reference, CASES) is False
    assert "not implemented yet" in capsys.readouterr().out


def test_raising_function_reported_without_traceback(capsys):
    def buggy(x):
        return x @ torch.ones(5)  # shape error

    assert check(buggy, reference, CASES, name="double", hint="multiply by two") is False
    captured = capsys.readouterr()
    assert "raised RuntimeError" in captured.out
    assert "hint: multiply by two" in captured.out
    assert "Traceback" not in captured.out + captured.err


def test_learner_cannot_change_reference_inputs(capsys):
    def in_place(x):
        x.mul_(100)
        return 2 * x / 100

    assert check(in_place, reference, CASES) is True


def test_check_value(capsys):
    assert check_value(0.5, 0.5, name="p") is True
    assert check_value(0.6, 0.5, name="p") is False
    assert "expected" in capsys.readouterr().out


def test_a_failing_case_with_a_bool_tensor_input_is_reported(capsys):
    mask = torch.tensor([True, False, True])
    assert not check(lambda x, m: (x * m).sum(), lambda x, m: (x * m).sum() + 1, [(torch.ones(3), mask)])
    out = capsys.readouterr().out
    assert "case 1" in out and "Traceback" not in out
