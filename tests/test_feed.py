"""Sweep scale: feeding Tune the planned trials, and recording their rows, do work that grows
linearly with the sweep (no Ray started: Tune's own trial generator is driven directly, and
the driver's callback is fed results by hand)."""

import copy
import io
import json
import os
import tempfile
from types import SimpleNamespace

import pytest
from ray import tune
from ray.tune.search.search_generator import SearchGenerator

from nas.config import parse
from nas.records import store
from nas.records.rows import PlanEntry, Status
from nas.sweeping import callbacks
from nas.sweeping.feed import NO_LIMIT, PENDING, PlanFeed, chunks, parts, pending, slots, tune_config
from nas.sweeping.plan import SampleRun
from nas.sweeping.progress import Progress
from nas.sweeping.schedulers import LiveASHA, LiveFIFO
from tests.synth import row

SPEC = {
    "input_shape": [3, 6, 6],
    "stem": {"type": "simple", "width": 8, "params": {"stride": 1}},
    "stages": [{"block": "res_basic", "depth": 1, "width": 8, "stride": 2, "params": {}}],
    "head": {"num_classes": 3, "type": "classifier", "params": {}},
}


def _plans(n: int) -> dict[str, PlanEntry]:
    return {f"s/{i}": PlanEntry(i, "s", i, f"m{i:04d}", SPEC, {"depth": 1}, {"flops": 10}) for i in range(n)}


def _noop(config):
    """A trainable never run: only its registration matters here."""


def _feed(n: int, per_trial: int = 1) -> tuple[list, int]:
    """The Tune trials of a sweep of `n` planned trials, made as the driver's Tuner makes them,
    and how many objects Tune deep-copied making them."""
    plans = _plans(n)
    config = tune_config(list(plans), per_trial, plans, None)
    exp = tune.Experiment(
        "scale",
        _noop,
        num_samples=config.num_samples,
        storage_path=tempfile.mkdtemp(),
        trial_dirname_creator=config.trial_dirname_creator,
    )
    generator = SearchGenerator(config.search_alg)
    generator.add_configurations([exp])
    copied = 0
    original = copy.deepcopy

    def counting(x, memo=None, _nil=None):
        nonlocal copied
        if memo is not None:  # a nested call of the copy being counted
            return original(x, memo)
        memo = {}
        out = original(x, memo)
        copied += len(memo)
        return out

    copy.deepcopy = counting
    try:
        trials = []
        while not generator.is_finished():
            trials.append(generator.next_trial())
    finally:
        copy.deepcopy = original
    return trials, copied


def test_chunks_keep_plan_order_and_the_last_one_is_shorter():
    assert chunks(["a", "b", "c", "d", "e"], 2) == [["a", "b"], ["c", "d"], ["e"]]


def test_a_large_sweep_runs_in_tuners_of_bounded_size():
    keys = [f"s/{i}" for i in range(7)]
    assert parts(keys, 2, 2) == [keys[:4], keys[4:]]  # 2 Tune trials of 2 keys a Tuner
    assert parts(keys, 1, 1000) == [keys]


def test_feed_hands_out_each_chunk_once_in_order_with_its_folder_name():
    trials, _ = _feed(5, per_trial=2)
    assert [t.config["keys"] for t in trials] == [["s/0", "s/1"], ["s/2", "s/3"], ["s/4"]]
    assert [t.custom_dirname for t in trials] == ["s-0-m0000+1", "s-2-m0002+1", "s-4-m0004"]


def test_feed_checkpoint_holds_the_position_only(tmp_path):
    feed = PlanFeed(chunks(list(_plans(50)), 1), _plans(50))
    for _ in range(7):
        feed.suggest("t")
    feed.save(str(tmp_path / "state"))
    assert len((tmp_path / "state").read_bytes()) < 40
    again = PlanFeed(feed.planned, feed.plans)
    again.restore(str(tmp_path / "state"))
    assert again.suggest("t")["keys"] == ["s/7"]


def test_feeding_tune_ten_times_the_trials_copies_and_stores_ten_times_as_much():
    """A grid_search over every chunk copies the list per trial (100x here), and a dirname
    creator holding the plan lands in every trial's saved state (its size grows 10x)."""
    small, copied_small = _feed(500)
    large, copied_large = _feed(5000)
    assert len(small) == 500 and len(large) == 5000
    assert copied_large / copied_small < 11
    state = max(len(t.get_json_state()[0]) for t in small[::50])
    assert max(len(t.get_json_state()[0]) for t in large[::500]) < 1.1 * state


class _NoScan(list):
    """Tune's list of every trial, which the callback must not walk per result."""

    def __iter__(self):
        raise AssertionError("the callback walked every trial for one result")


def test_the_callback_reads_the_store_once_and_never_walks_every_trial(tmp_path, monkeypatch):
    run_dir = tmp_path / "s"
    run_dir.mkdir()
    plans = _plans(60)
    entries = list(plans.values())
    store.append_row(run_dir, row(entries[0], error=10.0))  # recorded before: a retry re-runs it
    reads = []
    monkeypatch.setattr(store, "rows", lambda run: reads.append(run) or [{"trial_index": 0}])
    exp = parse({"name": "x", "space": {"name": "anynet_x_c"}, "samples": 60}, "x.yaml")
    run = SampleRun("s", run_dir, entries, list(range(60)))
    callback = callbacks.record_rows([run], plans, exp, Progress(60, 1, stream=io.StringIO()))
    everyone = _NoScan()
    for i, entry in enumerate(entries):
        trial = SimpleNamespace(trial_id=f"t{i}", config={"keys": [entry.key]}, num_failures=0)
        callback.on_trial_start(0, everyone, trial)
        result = {"row": json.dumps(row(entry, error=float(i)).to_dict()), "val_error": float(i)}
        callback.on_trial_result(0, everyone, trial, result)
    assert reads == [run_dir]
    lines = [json.loads(x) for x in (run_dir / store.TRIALS).read_text().splitlines()]
    assert [r["trial_index"] for r in lines] == list(range(60))  # trial 0 once: not again
    assert all(r["status"] == Status.OK for r in lines)


@pytest.mark.parametrize("per_trial", [1, 3])
def test_running_count_follows_starts_and_stops(tmp_path, per_trial):
    plans = _plans(6)
    entries = list(plans.values())
    exp = parse({"name": "x", "space": {"name": "anynet_x_c"}, "samples": 6}, "x.yaml")
    progress = Progress(6, 1, stream=io.StringIO())
    callback = callbacks.record_rows(
        [SampleRun("s", tmp_path, entries, list(range(6)))], plans, exp, progress
    )
    trials = [
        SimpleNamespace(trial_id=f"t{i}", config={"keys": c}, num_failures=0)
        for i, c in enumerate(chunks(list(plans), per_trial))
    ]
    for t in trials:
        callback.on_trial_start(0, _NoScan(), t)
    assert len(trials) == 6 // per_trial
    first = trials[0]
    for key in first.config["keys"]:
        result = {"row": json.dumps(row(plans[key], error=1.0).to_dict()), "val_error": 1.0}
        callback.on_trial_result(0, _NoScan(), first, result)
    assert progress.now_running == len(trials) - 1  # the first trial's last entry ended it
    callback.on_trial_recover(0, _NoScan(), trials[1])
    assert progress.now_running == len(trials) - 2


def test_slots_are_the_trials_the_cluster_fits_at_once(monkeypatch):
    import ray

    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 8.0, "GPU": 2.0})
    assert slots(1, 0, None) == 8
    assert slots(2, 0.5, None) == 4
    assert slots(1, 1, None) == 2
    assert slots(1, 0, 3) == 3
    assert slots(0, 0, None) == NO_LIMIT
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 1.0})
    assert slots(2, 0, None) == 1


def test_pending_is_set_for_the_block_only_and_the_users_value_wins(monkeypatch):
    monkeypatch.delenv(PENDING, raising=False)
    with pending(4):
        assert os.environ[PENDING] == "4"
    assert PENDING not in os.environ
    monkeypatch.setenv(PENDING, "9")
    with pending(4):
        assert os.environ[PENDING] == "9"
    assert os.environ[PENDING] == "9"


class _Controller:
    """What a scheduler sees of Tune's controller: the live trials, and every trial (not to walk)."""

    def __init__(self):
        self.live: set = set()

    def get_live_trials(self):
        return self.live

    def get_trials(self):
        return _NoScan()


class _Trial:
    """A Tune trial as a scheduler sees it: an id and a status (hashed by identity, as Tune's)."""

    def __init__(self, i: int, status: str = "PENDING"):
        self.trial_id, self.status = f"t{i:05d}", status


@pytest.mark.parametrize("make", [LiveFIFO, lambda: LiveASHA(metric="val_error", mode="min", max_t=1)])
def test_schedulers_start_the_longest_waiting_live_trial(make):
    scheduler, tc = make(), _Controller()
    trials = [_Trial(i) for i in range(4)]
    for t in trials:
        scheduler.on_trial_add(tc, t)
        tc.live.add(t)
    assert scheduler.choose_trial_to_run(tc) is trials[0]
    trials[0].status = "RUNNING"
    scheduler.on_trial_error(tc, trials[0])  # its worker died: Tune re-queues it, last
    trials[0].status = "PENDING"
    scheduler.on_trial_add(tc, trials[0])
    assert scheduler.choose_trial_to_run(tc) is trials[1]
    for t in trials[1:]:
        t.status = "RUNNING"
    assert scheduler.choose_trial_to_run(tc) is trials[0]
    trials[0].status, trials[3].status = "RUNNING", "PAUSED"
    assert scheduler.choose_trial_to_run(tc) is trials[3]
    trials[3].status = "RUNNING"
    assert scheduler.choose_trial_to_run(tc) is None


def test_launching_ten_times_the_trials_reads_ten_times_as_many_statuses():
    """Tune asks the scheduler for a trial at every step: a scheduler walking every trial so
    far (Tune's own FIFO) reads statuses as the square of the sweep (~1,000x here)."""

    def launch(n: int, slots: int = 4) -> int:
        scheduler, tc, reads = LiveFIFO(), _Controller(), [0]

        class Counted(_Trial):
            def __getattribute__(self, name):
                if name == "status":
                    reads[0] += 1
                return super().__getattribute__(name)

        trials = [Counted(i) for i in range(n)]
        added = 0
        for _ in range(n):  # one step a trial: top up the waiting trials, start one, end one
            while added < n and len(tc.live) < 2 * slots:
                scheduler.on_trial_add(tc, trials[added])
                tc.live.add(trials[added])
                added += 1
            chosen = scheduler.choose_trial_to_run(tc)
            chosen.status = "TERMINATED"
            tc.live.discard(chosen)
            scheduler.on_trial_complete(tc, chosen, {})
        return reads[0]

    small, large = launch(500), launch(5000)
    assert large / small < 11


def test_each_tuner_gets_its_own_callbacks_list():
    """Tune appends its progress callback to the list a Tuner is given; kept for the next
    Tuners, it would hold every trial of the sweep."""
    from nas.sweeping.tuners import _run_config

    ours = [tune.Callback()]
    config = _run_config("part", {"callbacks": ours, "verbose": 0})
    config.callbacks.append(tune.Callback())
    assert len(ours) == 1 and config.callbacks[0] is ours[0] and config.name == "part"


def test_each_tuner_carries_its_part_of_the_plan_not_the_sweeps(tmp_path, monkeypatch):
    """Tune pickles each Tuner's searcher and callbacks (tuner.pkl) and the workers unpickle
    its trainable's plan: ten times the trials, in Tuners of 100, pickle as much per Tuner."""

    import ray.cloudpickle

    from nas.sweeping import feed, tuners

    class Held:
        def __init__(self, value):
            self.value = value

    def sizes(n: int) -> list[int]:
        plans = _plans(n)
        run = SampleRun("s", tmp_path / str(n), list(plans.values()), list(range(n)))
        run.dir.mkdir()
        exp = parse({"name": "x", "space": {"name": "anynet_x_c"}, "samples": n}, "x.yaml")
        out = []

        class Tuner:
            def __init__(self, trainable, tune_config, run_config):
                shipped = [Held.made[-1]]  # the plan this Tuner's trainable hands its workers
                out.append(len(ray.cloudpickle.dumps((tune_config, run_config, shipped))))

            def fit(self):
                pass

        Held.made = []
        monkeypatch.setattr(feed, "Shared", lambda value: Held.made.append(value) or Held(value))
        monkeypatch.setattr(feed, "slots", lambda *a: 2)
        monkeypatch.setattr(feed, "TUNER_TRIALS", 100)
        monkeypatch.setattr(tune, "Tuner", Tuner)
        tuners.fit(exp, [run], None, tmp_path / f"out{n}", n)
        assert Held.made[-1].keys() == {f"s/{i}" for i in range(n - 100, n)}
        return out

    small, large = sizes(500), sizes(5000)
    assert len(small) == 5 and len(large) == 50
    assert max(large) < 1.1 * max(small)


def test_a_drawn_spec_is_costed_once(monkeypatch):
    """Planning checks each drawn spec (its parts' costs track the map sizes) and then records
    its complexity: the check's costs are reused, each part of each spec costed once."""
    from blocks import spec as specmod
    from blocks.complexity import complexity
    from spaces import get, sample

    calls = []
    original = specmod.Part.complexity
    monkeypatch.setattr(specmod.Part, "complexity", lambda self, *a: calls.append(1) or original(self, *a))
    space = get("anynet_x_c")
    options = space.resolve({"stages": 2, "max_depth": 1, "max_width": 8, "strides": [1, 2]})
    drawn = sample(space, 40, 0, options=options)
    parts = sum(len(specmod.parts(s.spec)) for s in drawn)
    assert parts == 40 * 4 and len(calls) == 1 + parts  # stem, 2 stages, head; the stem alone once first
    monkeypatch.setattr(specmod, "_checked", (None, ()))  # costed from scratch, the totals are the same
    assert [complexity(s.spec) for s in drawn] == [s.complexity for s in drawn]


def test_a_closed_trial_writer_is_freed(tmp_path):
    """tensorboardX keeps every file writer alive through its exit hook: a sweep's Board
    would hold one per trial it ever logged; closed, the sweep's writer lets it go."""
    import gc
    import weakref

    from nas.sweeping.tensorboard import writer_class

    writer = writer_class()(str(tmp_path), flush_secs=30)
    writer.add_scalar("val_error", 50.0, 1)
    held = weakref.ref(writer.file_writer)
    writer.close()
    del writer
    gc.collect()
    assert held() is None
    assert list(tmp_path.glob("events.out.tfevents.*"))  # what it wrote stays


def test_rays_encoder_keys_of_a_tuners_trials_are_forgotten():
    from ray.util import debug

    from nas.sweeping.tuners import forget_encoded

    debug.log_once("tune_func_encode:StorageContext<trial_dir_name='t1'>")
    debug.log_once("some other warning")
    forget_encoded()
    assert not [k for k in debug._logged if k.startswith("tune_func_encode:")]
    assert "some other warning" in debug._logged


def test_a_long_search_runs_in_tuners_of_bounded_size_continuing_one_study(tmp_path, monkeypatch, capsys):
    """Optimize mode: Tune holds every trial of a Tuner until it ends, so a run of 7 trials in
    Tuners of at most 3 is three Tuners, each drawing the next pending indices from one study."""
    from nas.sweeping import feed, tuners
    from nas.sweeping.plan import SearchRun

    exp = parse(
        {
            "name": "x",
            "space": {"name": "anynet_x_c"},
            "samples": 7,
            "search": {"mode": "optimize", "algorithm": "random", "scheduler": "none"},
        },
        "x.yaml",
    )
    run = SearchRun("anynet_x_c", tmp_path / "anynet_x_c", list(range(7)))
    run.dir.mkdir()
    made = []

    class Tuner:
        def __init__(self, trainable, tune_config, run_config):
            study = tune_config.search_alg
            made.append((tune_config.num_samples, list(study._space.pending), study.spent, run_config.name))

        def fit(self):
            pass

    monkeypatch.setattr(feed, "Shared", lambda value: None)
    monkeypatch.setattr(feed, "slots", lambda *a: 2)
    monkeypatch.setattr(feed, "TUNER_TRIALS", 3)
    monkeypatch.setattr(tune, "Tuner", Tuner)
    data = SimpleNamespace(input_shape=(3, 8, 8), num_classes=3)
    tuners.fit(exp, [run], data, tmp_path, 7)
    assert [(n, p) for n, p, _, _ in made] == [(3, [0, 1, 2]), (3, [3, 4, 5]), (1, [6])]
    assert made[0][2] is made[1][2] is made[2][2]  # one tally of the study's time for the run
    names = [name for *_, name in made]
    assert names[1] == names[0] + "-1" and names[2] == names[0] + "-2"
    assert "random sampler and study: no trial" in capsys.readouterr().out
