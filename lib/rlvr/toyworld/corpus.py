"""A pretraining corpus that is imperfect on purpose.

1-shot RLVR works on a base model that can often solve a problem but does not
reliably say so in the rewarded form: Qwen2.5-Math-1.5B boxes only about 60%
of its answers, runs on into new questions and repeats itself. A tiny model
learns such habits only from its pretraining text, so here every template is
written by a "source" with its own style: how often it ends in a boxed answer
(else the answer only in words), runs on into another question, repeats its
last sentence, skips the working, or slips once in the arithmetic (the slip
carried through to a wrong final answer).

Styles cycle over the templates at low boxed and high running-on rates (why:
``docs/results-toy.md``):
within a domain each template gets a different boxed rate, so every domain
has well and badly formatted sources. Two domains (``POOR_DOMAINS``) are
written only by a poor source (steps mostly skipped, answers seldom boxed,
nearly always running on), so that a model trained on the corpus is near zero
there and decent elsewhere, leaving room for RLVR's transfer across domains.

Problems come from the train side of the train/test partition only, so no
test problem text can occur in the corpus.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace

from ..prompts import TRAIN_SUFFIX
from .problems import LONG_EXTRA, extend, solve, stream
from .templates import TEMPLATES, Step, apply
from .world import World

STYLE_SEED = 7
# Domains written only by a poor source, so the base model is near zero there
# and RLVR's transfer across domains has room to show. Counting stays decent,
# so the base model is not near zero everywhere.
POOR_DOMAINS = ("remainder", "geometry")
MAX_PAIRS = 3  # question/answer pairs per document at most

# Low boxed rates: a base model that boxes less knows more than
# it is rewarded for, which is the gap 1-shot RLVR closes (docs/results-toy.md).
BOXED_LEVELS = (0.1, 0.3, 0.5, 0.7)
# Greedy decoding runs on only where running on is the likelier continuation,
# so most sources must run on more often than not (Qwen2.5-Math often rambles
# on); then the outcome reward has running on to remove and format-only keeps it.
RUN_ON_LEVELS = (0.3, 0.6, 0.9)
# A world's format prior (rlvr.toyworld.world): (boxed levels, run-on levels). The majority's boxed
# levels span Qwen2.5-Math's 60-83% at base; no paper gives its run-on rate, so the map sweeps it:
# "boxing" is the majority's boxing with toy-base's running on.
MAJORITY_BOXED = (0.6, 0.67, 0.75, 0.83)
FORMAT_LEVELS = {
    "minority": (BOXED_LEVELS, RUN_ON_LEVELS),
    "majority": (MAJORITY_BOXED, (0.1, 0.2, 0.3)),
    "boxing": (MAJORITY_BOXED, RUN_ON_LEVELS),
}
# A looping answer repeats its last sentence this often: about the tokens a run-on question costs, so a
# looping world's corpus holds as many problems as today's (a model that has learned to repeat goes on).
LOOP_REPEATS = 6
REPEAT_LEVELS = (0.05, 0.2, 0.35)
SKIP_LEVELS = (0.05, 0.2, 0.45)
SLIP_RATE = 0.1
SLIP_DELTAS = (-10, -2, -1, 1, 2, 10)  # typical slips: off by one or two, or by ten
# Share of questions that carry the training prompt's instruction, so the RL
# prompt is not foreign text to the model. It does not change how the answer is
# written: the instruction alone should not teach the box.
INSTRUCTION_RATE = 0.3


@dataclass(frozen=True)
class Style:
    """How one source writes its answers: each field is a probability per answer."""

    boxed: float
    run_on: float
    repeat: float
    skip: float
    slip: float = SLIP_RATE
    verify: float = 0.0  # rechecks every written step by its inverse, correcting a slip it finds


POOR_SOURCE = Style(boxed=0.25, run_on=0.95, repeat=0.35, skip=0.85)


def style_for(template_id: str, seed: int = STYLE_SEED, format_prior: str = "minority",
              verification: float = 0.0) -> Style:
    """The style of the source that writes ``template_id``'s problems, fixed by ``seed``.

    ``POOR_DOMAINS`` are written by the poor source, whatever the world's format prior (they keep
    the room for transfer across domains). The seed shuffles the templates; a template's place
    in the shuffle chooses its levels from the cycles of ``FORMAT_LEVELS[format_prior]`` (boxed
    by its place among its domain's templates, the other habits by its place overall).
    """
    domain = TEMPLATES[template_id].domain
    rng = random.Random(seed)
    if domain in POOR_DOMAINS:
        return replace(POOR_SOURCE, verify=verification)  # checking is reachable in every domain
    boxed_levels, run_on_levels = FORMAT_LEVELS[format_prior]
    order = rng.sample(list(TEMPLATES), len(TEMPLATES))
    place = order.index(template_id)
    place_in_domain = [t for t in order if TEMPLATES[t].domain == domain].index(template_id)
    return Style(
        boxed=boxed_levels[place_in_domain % len(boxed_levels)],
        run_on=run_on_levels[place % len(run_on_levels)],
        repeat=REPEAT_LEVELS[place % len(REPEAT_LEVELS)],
        skip=SKIP_LEVELS[place % len(SKIP_LEVELS)],
        verify=verification,
    )


def _replay(steps: list[Step], at: int, wrong: int) -> list[Step] | None:
    """``steps`` with step ``at`` giving ``wrong``, carried through the later steps.

    None when the slip leaves the final answer unchanged (a slip that does
    not matter is not a slip here), makes a later division inexact, or goes
    negative (the world has only non-negative numbers).
    """
    out: list[Step] = []
    for i, step in enumerate(steps):
        a = step.a if step.a_from is None else out[step.a_from].result
        b = step.b if step.b_from is None else out[step.b_from].result
        try:
            result = wrong if i == at else apply(a, step.op, b)
        except (ArithmeticError, ValueError):
            return None
        if result < 0:
            return None
        out.append(replace(step, a=a, b=b, result=result))
    return out if out[-1].result != steps[-1].result else None


def slip(steps: list[Step], rng: random.Random) -> list[Step]:
    """The solution with one arithmetic slip, propagated to a wrong final answer."""
    tries = [(i, delta) for i in range(len(steps)) for delta in SLIP_DELTAS]
    rng.shuffle(tries)
    # Never exhausted: the last step's result plus one always qualifies.
    return next(
        slipped
        for i, delta in tries
        if (slipped := _replay(steps, i, steps[i].result + delta)) is not None
    )


# A step checked by its inverse: a + b = r by r - b = a, and so on (``//`` has none: it is recomputed).
INVERSE = {"+": "-", "-": "+", "*": "/", "/": "*"}


def fine(step: Step) -> str:
    """A step in the code-like mode: every intermediate value written, splitting a two-digit operand
    into tens and units (``"4 * 11 = 4 * 10 + 4 * 1 = 40 + 4 = 44"``). A slipped step slips in its last
    operation, so the mode's sources are as often wrong as the others: its only advantage is granularity."""
    a, op, b, r = step.a, step.op, step.b, step.result

    def splits(n: int) -> bool:
        return n > 10 and n % 10 != 0

    if op in "+-" and splits(b):
        tens, units = b - b % 10, b % 10
        return f"{a} {op} {b} = {a} {op} {tens} {op} {units} = {apply(a, op, tens)} {op} {units} = {r}"
    if op == "*" and splits(b):
        tens, units = b - b % 10, b % 10
        return f"{a} * {b} = {a} * {tens} + {a} * {units} = {a * tens} + {a * units} = {r}"
    if op == "*" and splits(a):
        tens, units = a - a % 10, a % 10
        return f"{a} * {b} = {tens} * {b} + {units} * {b} = {tens * b} + {units * b} = {r}"
    return step.render()


def checked(steps: list[Step], right: list[Step], render=Step.render) -> list[str]:
    """``steps`` written out (each by ``render``), each followed by its recheck; at a slip (the first step
    whose result is not ``right``'s) the recheck finds it, the step is corrected and ``right``'s steps follow.

    ``"4 * 11 = 45. Recheck: 45 / 11 is not 4. So 4 * 11 = 44. Recheck: 44 / 11 = 4. ..."``
    """
    sentences = []
    for i, (step, true) in enumerate(zip(steps, right)):
        if step.result != true.result:
            if _invertible(step):
                found = f"Recheck: {step.result} {INVERSE[step.op]} {step.b} is not {step.a}."
            else:
                found = f"Recheck: {true.render()}, not {step.result}."
            return [*sentences, f"{render(step)}.", f"{found} So {render(true)}.",
                    *(sentence for later in right[i + 1:] for sentence in _written(later, render))]
        sentences += _written(step, render)
    return sentences


def _invertible(step: Step) -> bool:
    return step.op in INVERSE and step.b != 0


def _written(step: Step, render=Step.render) -> list[str]:
    """A right step and its recheck by the inverse (none for a step without one)."""
    if not _invertible(step):
        return [f"{render(step)}."]
    return [f"{render(step)}.", f"Recheck: {step.result} {INVERSE[step.op]} {step.b} = {step.a}."]


# A code-like answer says so first: what the profile counts as the mode (rlvr.toyworld.profile).
CODE_MARK = "Code:"


def render_solution(problem: dict, style: Style, rng: random.Random,
                    verify_rng: random.Random | None = None, code: bool = False,
                    habits: dict | None = None) -> str:
    """The answer text a source with ``style`` writes for ``problem``.

    For example ``"4 * 11 = 44. 23 + 44 = 67. The answer is \\boxed{67}."``,
    or with the steps skipped and no box, ``"The answer is 67."``. A source that verifies
    (``style.verify``) rechecks each written step and corrects its slip (``checked``); ``code``
    writes the worked steps in the code-like mode (``CODE_MARK``, then every step by ``fine``).
    ``habits`` (a document's, in a coherent world): the first answer's choices of boxing, skipping,
    checking and repeating are kept there and every later answer of the document makes the same ones.
    """

    def habit(name: str, drawn: bool) -> bool:
        return drawn if habits is None else habits.setdefault(name, drawn)

    right = solve(problem)
    steps = slip(right, rng) if rng.random() < style.slip else right
    # From its own generator (``verify_rng``), so that a world with checking writes every other choice
    # of today's corpus as today's does: the switch changes the checked answers and nothing else.
    verifies = habit("verifies", style.verify > 0 and (verify_rng or rng).random() < style.verify)
    boxed = habit("boxed", rng.random() < style.boxed)
    render = fine if code else Step.render
    skipped = habit("skipped", rng.random() < style.skip)
    worked = [] if skipped else checked(steps, right, render) if verifies else [f"{render(s)}." for s in steps]
    if code and worked:
        worked = [CODE_MARK, *worked]
    answer = (right if verifies and worked else steps)[-1].result
    shown = f"\\boxed{{{answer}}}" if boxed else str(answer)
    final = f"The answer is {shown}."
    sentences = [*worked, final]
    if habit("repeats", rng.random() < style.repeat):
        sentences.append(final)
    return " ".join(sentences)


def make_corpus(n_documents: int, *, style_seed: int = STYLE_SEED, world: World | None = None) -> list[str]:
    """``n_documents`` documents of 1 to ``MAX_PAIRS`` "Question: ...\\nAnswer: ..."
    pairs joined by blank lines. Where an answer's source does not stop (its run-on rate), the
    document goes on to another pair: that is how a model learns to ramble on past its answer
    instead of stopping. ``world`` switches the world's properties (``rlvr.toyworld.world``;
    its defaults write this very corpus): a majority format prior, a loop on the last sentence
    in place of running on, every document's questions of its first question's template."""
    world = world or World()
    seed = world.corpus_seed
    styles = {template_id: style_for(template_id, style_seed, world.format_prior, world.verification)
              for template_id in TEMPLATES}
    problems = stream(seed, split="train")
    rng, verify_rng = random.Random(f"render-{seed}"), random.Random(f"verify-{seed}")
    # The newer switches draw from generators of their own too: at their defaults they draw nothing.
    mode_rng, gap_rng = random.Random(f"modes-{seed}"), random.Random(f"gap-{seed}")
    documents = []
    for _ in range(n_documents):
        pairs: list[str] = []
        source = None  # the template of the document's first question
        habits = {} if world.document_coherence else None  # one style a document, where coherent
        while True:
            problem = next(problems)
            while world.document_coherence and source is not None and problem["template"] != source:
                problem = next(problems)  # the same source's next question
            source, style = source or problem["template"], styles[problem["template"]]
            if world.difficulty_gap:
                problem = extend(problem, gap_rng, gap_rng.randint(0, LONG_EXTRA))
            question = problem["problem"] + (TRAIN_SUFFIX if rng.random() < INSTRUCTION_RATE else "")
            code = world.reasoning_modes > 0 and mode_rng.random() < world.reasoning_modes
            code = code if habits is None else habits.setdefault("code", code)
            answer = render_solution(problem, style, rng, verify_rng, code, habits)
            stops = len(pairs) + 1 == MAX_PAIRS or rng.random() >= style.run_on
            if not stops and world.failure_kind == "loop":
                answer += (" " + answer.rpartition(". ")[2]) * LOOP_REPEATS  # its last sentence, again and again
                stops = True
            pairs.append(f"Question: {question}\nAnswer: {answer}")
            if stops:
                break
        documents.append("\n\n".join(pairs))
    return documents


# A written step: "a op b = r", or in the code-like mode "a op b = <its parts> = r" (r its last value).
STEP = re.compile(r"(\d+) (\+|-|\*|//|/) (\d+) = (?:[^.,]* = )?(\d+)(?=[.,]|$)")


def _step_holds(a: str, op: str, b: str, result: str) -> bool:
    try:
        return apply(int(a), op, int(b)) == int(result)
    except (ArithmeticError, ValueError):
        return False


def _rate(count: int, total: int) -> float:
    return count / total if total else 0.0


def corpus_stats(documents: list[str]) -> dict[str, float]:
    """The corpus' measured profile, read from the text alone.

    Rates are per answer: ``boxed_rate`` (ends in a box), ``run_on_rate``
    (another pair follows in the document), ``repeat_rate`` (final sentence
    said twice), ``loop_rate`` (more than three times), ``recheck_rate`` (a
    step rechecked), ``corrected_rate`` (a slip found and corrected), ``skip_rate``
    (no worked step), ``code_rate`` (worked answers in the code-like mode). ``slip_rate`` counts answers
    with a step whose arithmetic is wrong among the worked answers only: a slip
    behind skipped steps leaves no trace in the text.
    """
    answers = boxed = run_on = repeated = looped = rechecked = corrected = skipped = slipped = code = 0
    for document in documents:
        pairs = document.split("\n\n")
        for index, pair in enumerate(pairs):
            answer = pair.partition("\nAnswer: ")[2]
            steps = STEP.findall(answer)
            answers += 1
            boxed += "\\boxed{" in answer
            run_on += index < len(pairs) - 1
            repeated += answer.count("The answer is") > 1
            looped += answer.count("The answer is") > 3
            rechecked += "Recheck: " in answer
            corrected += ". So " in answer
            skipped += not steps
            slipped += any(not _step_holds(*step) for step in steps)
            code += answer.startswith(CODE_MARK)
    return {
        "documents": len(documents),
        "answers": answers,
        "boxed_rate": _rate(boxed, answers),
        "run_on_rate": _rate(run_on, answers),
        "repeat_rate": _rate(repeated, answers),
        "loop_rate": _rate(looped, answers),
        "recheck_rate": _rate(rechecked, answers),
        "corrected_rate": _rate(corrected, answers),
        "skip_rate": _rate(skipped, answers),
        "slip_rate": _rate(slipped, answers - skipped),
        "code_rate": _rate(code, answers - skipped),
    }
