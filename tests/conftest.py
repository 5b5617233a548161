"Shared setup for the pytest suite: a headless matplotlib backend, and hypothesis settings every property test inherits."
import os

os.environ.setdefault('MPLBACKEND', 'Agg')
# Offline, as scripts/test.sh runs it: commands run in this process (cli.main) must not reach for the Hub.
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('HF_DATASETS_OFFLINE', '1')

from hypothesis import HealthCheck, settings  # noqa: E402

# No deadline (a busy 2-core machine makes single examples slow) and no too_slow health check for the same reason;
# each test sets its own max_examples.
settings.register_profile('ardm', deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile('ardm')


import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(scope='module')
def one_thread():
    "TINY models gain nothing from intra-op threads, and on a busy 2-core machine spinning threads make them ~5x slower; restored after."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
