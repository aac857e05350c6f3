"""How the ``pbt_policy_*.txt`` files here were written: a tiny local Ray Tune PBT run (4
trials, a perturbation every 3 iterations, 12 iterations, synchronous).

    python tests/search/data/write_pbt_policy.py DIR   # the logs land in DIR/pbt/
"""

import json
import sys
import tempfile
from pathlib import Path

import ray
from ray import tune
from ray.tune.schedulers import PopulationBasedTraining


def trainable(config):  # type: ignore[no-untyped-def]
    step = 0
    if ckpt := tune.get_checkpoint():
        with ckpt.as_directory() as d:
            step = json.loads((Path(d) / "s.json").read_text())["step"]
    while step < 12:
        step += 1
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "s.json").write_text(json.dumps({"step": step}))
            score = -abs(config["lr"] - 0.3) + step * 0.001
            tune.report(
                {"score": score, "step": step}, checkpoint=tune.Checkpoint.from_directory(d)
            )


if __name__ == "__main__":
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    pbt = PopulationBasedTraining(
        time_attr="training_iteration", perturbation_interval=3, metric="score", mode="max",
        hyperparam_mutations={"lr": tune.uniform(0.01, 1.0), "momentum": [0.8, 0.9, 0.99]},
        quantile_fraction=0.5, synch=True,
    )  # fmt: skip
    space = {"lr": tune.uniform(0.01, 1.0), "momentum": tune.choice([0.8, 0.9, 0.99])}
    tuner = tune.Tuner(
        trainable, param_space=space,
        tune_config=tune.TuneConfig(num_samples=4, scheduler=pbt, reuse_actors=False),
        run_config=tune.RunConfig(name="pbt", storage_path=sys.argv[1], verbose=0),
    )  # fmt: skip
    tuner.fit()
    print(sorted(Path(sys.argv[1]).glob("pbt/pbt_policy_*.txt")))
