"""The server's speed figure follows the jobs it finishes (serving.speed.learned), so estimates made from a
start-up probe on a loaded machine stop misleading."""

from __future__ import annotations

import pytest
from serving import speed
from stylize import Stage, methods

START = speed.Speed(1000.0, {name: 0.0 for name in methods.NAMES})
STAGES = [Stage((100, 100), 50), Stage((200, 100), 50)]
WORK = 100 * 100 * 50 + 200 * 100 * 50  # 1.5 M pixel-iterations


def test_a_finished_job_moves_the_rate_towards_its_own_by_a_share() -> None:
    after = speed.learned(START, STAGES, methods.DEFAULT, busy_s=WORK / 4000.0, tiled=False)
    assert after.pixel_iterations_per_s == pytest.approx(1000 * (1 - speed.LEARNING_SHARE) + 4000 * speed.LEARNING_SHARE)
    assert after.style_loss_s_per_iteration == START.style_loss_s_per_iteration
    # several such jobs: the figure converges on what the jobs show
    current = START
    for _ in range(20):
        current = speed.learned(current, STAGES, methods.DEFAULT, busy_s=WORK / 4000.0, tiled=False)
    assert current.pixel_iterations_per_s == pytest.approx(4000, rel=0.01)


def test_a_server_with_no_figure_takes_the_jobs_rate() -> None:
    unknown = speed.Speed(0.0, {})
    assert speed.learned(unknown, STAGES, methods.DEFAULT, busy_s=3.0, tiled=False).pixel_iterations_per_s == WORK / 3.0


@pytest.mark.parametrize(("style_loss", "busy_s", "tiled"), [
    (methods.DEFAULT, speed.MIN_LEARNING_S / 2, False),  # mostly set-up
    (methods.DEFAULT, 10.0, True),  # tiles cost more per pixel than the figure stands for
    *[(name, 10.0, False) for name in methods.NAMES if name != methods.DEFAULT],  # its own cost on top
])
def test_jobs_whose_rate_is_not_the_pixel_rate_teach_nothing(style_loss: str, busy_s: float, tiled: bool) -> None:
    assert speed.learned(START, STAGES, style_loss, busy_s, tiled) == START
