"""The labelling widget: a person compares two continuations and the choice is saved at once.

Built from core ipywidgets plus one tiny anywidget for the keys (its JavaScript is inline, so there is
nothing to build; anywidget runs in JupyterLab, Jupyter Notebook 7, VS Code and Colab alike). Every button goes through the same
:class:`rlhf_utils.feedback.LabellingSession` as the simulated labeller: ``session.label(...)``
appends the record to the JSONL store (flushed and fsynced) before the next pair appears, and
"Undo" appends a retraction of this session's last label and shows that pair again.

A click labels the pair it was shown with. Each pair gets its own choice buttons, bound to that
pair's key: a second click of a double-click, or a click in a second widget on the same session,
arrives from buttons of a pair the session has moved past, so it is refused (nothing is saved) and
the widget shows the pair to judge now.

Keys (:data:`KEYS`) do what the buttons do, once the widget has the focus (click it once). A key press
carries the token of the pair that was on screen, so a press that arrives after that pair was
replaced is refused like a stale click; a held key (auto-repeat) labels one pair, not several.

Usage in a notebook::

    store = FeedbackStore(default_store_path())
    session = LabellingSession(store, pairs, model=MODEL_NAME, labeller="your name", repeats=3)
    LabellingWidget(session)           # the last expression of a cell displays it
"""

from __future__ import annotations

import html
import itertools
import json
import time
from collections.abc import Callable

import anywidget
import ipywidgets as widgets
import traitlets

from .gold import check_criterion
from .feedback import ComparisonPair, LabellingSession, StaleLabelError
from .feedback_store import Choice

_COMMON = (
    "The continuations come from a small model, so many are odd or half fluent: <b>judge the {what} that is "
    "there</b>, as a reader would, even in a clumsy sentence. Text that only repeats words (&ldquo;great great "
    "great&rdquo;) or says almost nothing is worse than a plain, neutral sentence. Both stop after a fixed number "
    "of tokens, so do not mark one down for ending mid-sentence. Equally {adjective}? <i>Tie</i>. <i>Skip</i> only "
    "when neither has any {what} at all."
)
_EXAMPLE = "<br><span style='color:#555'>Example: {example}</span>"
INSTRUCTION_PARTS = {
    "positive": ("Prefer the more <b>positive, enthusiastic</b> review.", "enthusiasm", "positive",
                 "&ldquo;the acting was fine and the songs, oh the songs were lovely&rdquo; beats "
                 "&ldquo;the plot is a plot about a film about the plot&rdquo; (awkward, but it praises something)."),
    "negative": ("Prefer the more <b>negative, scathing</b> review.", "criticism", "negative",
                 "&ldquo;a dull, wooden mess and the ending was worse&rdquo; beats &ldquo;it was a fun family "
                 "film, I liked it a lot&rdquo;; &ldquo;bad bad bad bad&rdquo; is not a review and loses to both."),
}


def instructions_for(criterion: str = "positive", in_words: str = "") -> str:
    """The widget's instruction (HTML) for a criterion, with one worked example; ``own`` shows ``in_words``."""
    check_criterion(criterion)
    if criterion == "own":
        if not in_words.strip():
            raise ValueError("With the criterion 'own', say in a sentence what you prefer "
                             "(MY_CRITERION_IN_WORDS in notebook 04's setup cell): it is shown while you label.")
        head = f"Prefer the review that better fits <b>your criterion: {html.escape(in_words.strip())}</b>."
        return f"<b>Which continuation makes the better movie review?</b> {head} " + _COMMON.format(
            what="quality you are judging", adjective="good")
    head, what, adjective, example = INSTRUCTION_PARTS[criterion]
    return (f"<b>Which continuation makes the better movie review?</b> {head} " + _COMMON.format(what=what, adjective=adjective)
            + _EXAMPLE.format(example=example))


DEFAULT_INSTRUCTIONS = instructions_for("positive")
"""The default task; :func:`instructions_for` gives the text for every criterion."""

BUTTONS: dict[str, Choice] = {"A is better": "A", "B is better": "B", "Tie": "tie", "Skip": "skip"}
"""Button text -> the choice it records."""

KEYS: dict[str, str] = {"a": "A", "1": "A", "b": "B", "2": "B", "t": "tie", "s": "skip", "u": "undo",
                        "Backspace": "undo"}
"""Key (as the browser names it, letters lower-cased) -> the choice it records, or ``"undo"``."""

_KEY_HINT = ("<b>Keys:</b> <kbd>A</kbd> or <kbd>1</kbd> = A is better &middot; <kbd>B</kbd> or <kbd>2</kbd> = B is "
             "better &middot; <kbd>T</kbd> = tie &middot; <kbd>S</kbd> = skip &middot; <kbd>U</kbd> or "
             "<kbd>Backspace</kbd> = undo")


class KeyboardShortcuts(anywidget.AnyWidget):
    """Key presses on the labelling widget, sent to Python with the token of the pair on screen.

    The listener sits on the enclosing widget (CSS class ``rlhf-labelling``), so keys work wherever the
    focus is inside it, buttons included. It marks that element ``data-lm-suppress-shortcuts`` so that
    JupyterLab's own single-key shortcuts (``a``, ``b``: insert a cell) do not fire there, ignores
    auto-repeat, and leaves key presses with Ctrl, Alt or Meta alone.
    """

    _esm = """
    const KEYS = new Set(%s);
    function render({ model, el }) {
      const state = document.createElement("span");
      el.innerHTML = %s + " ";
      el.appendChild(state);
      el.style.fontSize = "0.9em";
      let root = null;
      const show = (on) => { state.textContent = on ? "(keys on)" : "(click the widget to use them)";
                             state.style.color = on ? "#1a7f37" : "#777"; };
      const onKey = (e) => {
        if (e.ctrlKey || e.metaKey || e.altKey) return;
        const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
        if (!KEYS.has(key)) return;
        e.preventDefault();
        e.stopPropagation();
        if (e.repeat) return;  // a held key labels one pair, not several
        // the pair the person sees: the token in the text on screen, not the newest one Python has sent
        const shown = root.querySelector("[data-pair-token]");
        model.send({ key: key, pair: shown ? shown.dataset.pairToken : model.get("pair_token") });
      };
      let keysOn = false;  // the person gave the widget the keys; a pair replaced under the focus keeps them
      const onIn = () => { keysOn = true; show(true); };
      const onOut = () => {
        const lost = document.activeElement === null || document.activeElement === document.body;
        keysOn = root.contains(document.activeElement) || (keysOn && lost);
        show(keysOn);
      };
      model.on("change:pair_token", () => setTimeout(() => {
        // a clicked button is replaced with the pair, which drops the focus to the page: give it back
        if (keysOn && root && !root.contains(document.activeElement)) root.focus({ preventScroll: true });
      }, 0));
      const attach = (tries) => {  // el joins the page after render returns
        root = el.closest(".rlhf-labelling");
        if (!root && tries > 0) { requestAnimationFrame(() => attach(tries - 1)); return; }
        root = root || el;
        root.setAttribute("tabindex", "0");
        root.setAttribute("data-lm-suppress-shortcuts", "true");
        root.addEventListener("keydown", onKey);
        root.addEventListener("focusin", onIn);
        root.addEventListener("focusout", () => setTimeout(onOut, 0));
        root.addEventListener("mousedown", (e) => {
          // a button keeps the click but not the focus: it is replaced with its pair, and the keys would go with it
          if (e.target.closest("button")) e.preventDefault();
          if (e.target.closest("button") || !root.contains(document.activeElement)) root.focus({ preventScroll: true });
        });
        show(root.contains(document.activeElement));
      };
      attach(60);
      return () => { if (root) { root.removeEventListener("keydown", onKey); root.removeEventListener("focusin", onIn); } };
    }
    export default { render };
    """ % (json.dumps(list(KEYS)), json.dumps(_KEY_HINT))
    pair_token = traitlets.Unicode("").tag(sync=True)
    """The pair shown now. A key press sends back the token written into the text on screen (so, the pair the
    person saw, even while the next one is on its way); see :meth:`LabellingWidget.press_key`."""


_TEXT_BOX = (
    "<div data-pair-token='{token}' style='white-space:pre-wrap; line-height:1.5; min-height:4em'>"
    "<span style='color:#777'>{prompt}</span><b>{response}</b></div>"
)


def _as_html(prompt: str, response: str, token: str = "") -> str:
    """One response under its prompt; ``token`` marks which pair the text belongs to (a key press reads it)."""
    shown = html.escape(response) if response.strip() else "<i style='color:#a00'>(empty)</i>"
    return _TEXT_BOX.format(prompt=html.escape(prompt), response=shown, token=html.escape(token))


class LabellingWidget(widgets.VBox):
    """Prompt and two continuations side by side; A / B / Tie / Skip, an optional 1-5 rating (off by default),
    Undo, and progress (done / total, how many remain). Every action has a key (:data:`KEYS`, shown
    on the widget; :meth:`press_key` is what a key press does).

    ``instructions`` (HTML) says what to prefer. The 1-5 rating is off by default: used as a margin or soft
    target it did not make the learner's reward model better (``scripts/learner_label_efficiency.py``,
    ``data/results/learner_label_efficiency.json``); ``show_rating=True`` shows it, e.g. to teach ratings as feedback.
    ``last_error`` holds the message of the last failed action (also shown in red under the buttons).

    ``after_label(session) -> str``, if given, is called when the widget opens and after every saved label or
    undo, once the next pair is on screen (so it never delays it); its text is shown under the buttons, in
    :attr:`note`. Notebook 04 passes :class:`rlhf_utils.reward_model.LiveHeldbackAccuracy`: the accuracy of the
    learner's model so far on their own held-back pairs. An error in it is shown there; the label is already saved.
    """

    def __init__(
        self,
        session: LabellingSession,
        *,
        instructions: str = DEFAULT_INSTRUCTIONS,
        show_rating: bool = False,
        after_label: Callable[[LabellingSession], str] | None = None,
    ) -> None:
        self.session = session
        self.after_label = after_label
        self.last_error: str | None = None
        self._shown_item = None
        self._shown_at = time.monotonic()

        self.instructions = widgets.HTML(
            f"<div style='padding:6px 10px; background:#f4f6fa; border-left:4px solid #4a6fa5'>{instructions}</div>"
        )
        self.progress_bar = widgets.IntProgress(min=0, max=max(session.total, 1), layout=widgets.Layout(width="50%"))
        self.progress_text = widgets.Label()
        panel = widgets.Layout(width="50%", border="1px solid #bbb", padding="4px 10px", margin="2px")
        self.text_a, self.text_b = widgets.HTML(), widgets.HTML()
        self.box_a = widgets.VBox([widgets.HTML("<b>A</b>"), self.text_a], layout=panel)
        self.box_b = widgets.VBox([widgets.HTML("<b>B</b>"), self.text_b], layout=panel)
        self.rating = widgets.ToggleButtons(
            options=[("no rating", None)] + [(str(i), i) for i in range(1, 6)],
            value=None,
            description="How much better (1 = slightly, 5 = far):",
            style={"description_width": "initial", "button_width": "auto"},
        )
        self.choice_buttons: list[widgets.Button] = []  # the buttons of the pair shown now (see _refresh)
        self.undo_button = widgets.Button(description="Undo", icon="undo", button_style="warning")
        self.undo_button.on_click(lambda _button: self._on_undo())
        self.buttons = widgets.HBox([self.undo_button])
        self.status = widgets.HTML()
        self.note = widgets.HTML()
        self.keyboard = KeyboardShortcuts()
        self.keyboard.on_msg(lambda _widget, content, _buffers: self.press_key(content.get("key"), content.get("pair")))
        self._tokens = itertools.count()

        children = [
            self.instructions,
            widgets.HBox([self.progress_bar, self.progress_text]),
            widgets.HBox([self.box_a, self.box_b]),
        ]
        if show_rating:
            children.append(self.rating)
        children += [self.buttons, self.keyboard, self.status, self.note]
        super().__init__(children)
        self.add_class("rlhf-labelling")  # where the keyboard listener attaches (see KeyboardShortcuts)
        self.text_a.add_class("rlhf-text-a")
        self._refresh()
        self._update_note()

    # ------------------------------------------------------------------ actions
    def _on_choice(self, choice: Choice, shown: tuple[str, bool] | None) -> None:
        rating = self.rating.value if choice in ("A", "B") else None
        try:
            record = self.session.label(
                choice, rating, response_time_s=round(time.monotonic() - self._shown_at, 3), shown=shown
            )
        except StaleLabelError as err:
            self._refresh(f"Not saved: {err}")
            self.last_error = f"{type(err).__name__}: {err}"
            return
        except Exception as err:  # shown to the learner: a callback's traceback would be invisible
            self._show_error(err)
            return
        self._refresh(f"Saved: {record.choice}" + (f" (rating {record.rating})" if record.rating else "") + ".")
        self._update_note()

    def _on_undo(self) -> None:
        try:
            retraction = self.session.undo()
        except Exception as err:
            self._show_error(err)
            return
        self._refresh("Nothing to undo in this session." if retraction is None else "Undone: that pair is shown again.")
        self._update_note()

    def press_key(self, key: str | None, pair_token: str | None = None) -> None:
        """What a key press in the browser does (see :data:`KEYS`); ``pair_token`` is the pair it was pressed on.

        Without a token the press is for the pair on screen now. A token of a pair already replaced (the
        press crossed the next pair on its way) is refused: nothing is saved, and the widget says so.
        """
        action = KEYS.get(key or "")
        if action is None:
            return
        if pair_token is not None and pair_token != self.keyboard.pair_token:
            self.last_error = "StaleKeyPress: that key was pressed for a pair already replaced"
            self.status.value = ("<span style='color:#b00'>Not saved: that key was pressed for the pair before this "
                                 "one. Judge the pair shown now.</span>")
            return
        if action == "undo":
            self._on_undo()
        elif self._shown_item is not None:
            self._on_choice(action, self._shown_item.key)

    # ------------------------------------------------------------------ what is on screen
    @property
    def shown_pair(self) -> ComparisonPair | None:
        """The pair on screen now, as the person sees it (A left, B right); ``None`` when all are labelled."""
        return None if self._shown_item is None else self._shown_item.pair

    def button_for(self, choice: Choice) -> widgets.Button:
        """The button on screen that records ``choice`` (``"A"``, ``"B"``, ``"tie"`` or ``"skip"``)."""
        for button in self.choice_buttons:
            if BUTTONS[button.description] == choice:
                return button
        raise ValueError(f"no button records {choice!r}; the choices are {', '.join(BUTTONS.values())}")

    # ------------------------------------------------------------------ display
    def _show_error(self, err: Exception) -> None:
        self.last_error = f"{type(err).__name__}: {err}"
        self.status.value = f"<span style='color:#b00'>Not saved. {html.escape(self.last_error)}</span>"

    def _update_note(self) -> None:
        if self.after_label is None:
            return
        try:
            text = html.escape(self.after_label(self.session))
        except Exception as err:  # the label is saved already; say why the note is missing
            text = f"<span style='color:#b00'>(no report: {html.escape(f'{type(err).__name__}: {err}')})</span>"
        self.note.value = f"<span style='color:#355'>{text}</span>"

    def _refresh(self, message: str = "") -> None:
        s = self.session
        self.last_error = None
        self.progress_bar.value = s.done
        self.progress_text.value = f"{s.done} / {s.total} done, {s.remaining} left"
        self.rating.value = None
        item = s.current
        self._shown_item = item
        token = str(next(self._tokens))
        finished = item is None
        self._new_choice_buttons(None if finished else item.key, disabled=finished)
        if finished:
            self.text_a.value = self.text_b.value = ""
            message = f"{message} All {s.total} pairs are labelled.".strip()
        else:
            self.text_a.value = _as_html(item.pair.prompt, item.pair.response_a, token)
            self.text_b.value = _as_html(item.pair.prompt, item.pair.response_b, token)
        where = html.escape(str(s.store.path))
        self.status.value = f"{html.escape(message)} <span style='color:#777'>Labels are saved to {where}</span>"
        self.keyboard.pair_token = token
        self._shown_at = time.monotonic()

    def _new_choice_buttons(self, shown: tuple[str, bool] | None, disabled: bool) -> None:
        """Replace the choice buttons with new ones bound to the pair now shown (its key)."""
        old = self.choice_buttons
        self.choice_buttons = []
        for text, choice in BUTTONS.items():
            button = widgets.Button(
                description=text, button_style="primary" if choice in ("A", "B") else "", disabled=disabled
            )
            button.on_click(lambda _button, choice=choice: self._on_choice(choice, shown))
            self.choice_buttons.append(button)
        self.buttons.children = (*self.choice_buttons, self.undo_button)
        for button in old:
            button.close()  # a click still in flight for the old pair is then dropped, never applied to the new one
