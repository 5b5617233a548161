"The public API the notebooks promise: every name exists, is exported in `__all__`, and is callable."
import importlib

import pytest

PUBLIC = {
    'signals': ['entropy', 'margin', 'confidence_change', 'uncertainty_signals', 'RunningNorm', 'Signals'],
    'schedules': ['maturity_prior', 'Hyperschedule', 'ar_diffusion_timesteps', 'ar_diffusion_skip_times'],
    'gate': ['noisy_or', 'LinearGate', 'MLPGate', 'OverwriteGate', 'GateConfig', 'Selector', 'select_topk',
             'select_threshold', 'select_bernoulli', 'budget', 'linear_schedule', 'editable_tail', 'save_gate',
             'load_gate'],
    'acceptance': ['AcceptanceConfig', 'no_regression', 'propose', 'creates_repeat', 'accept_edits', 'should_stop'],
    'samplers': ['sample', 'Engine', 'SampleResult', 'make_rule', 'DDPMRule', 'OrderedRule', 'ThresholdRule', 'ReMDMRule', 'P2Rule',
                 'ScheduleRule', 'GateRule', 'plot_trace', 'load_model', 'decode', 'nucleus_sample'],
    'gate_training': ['GateTrainConfig', 'train_gate', 'proxy_loss', 'seq_loss', 'unroll', 'plot_gate_curves'],
    'compare': ['CompareConfig', 'compare', 'run_compare', 'judge_nll', 'unigram_entropy', 'corrupt_passages', 'repair_scores'],
}


@pytest.mark.parametrize('module,name', [(m, n) for m, names in PUBLIC.items() for n in names])
def test_public_name(module, name):
    mod = importlib.import_module(f'ardm_nb.{module}')
    assert hasattr(mod, name), f'ardm_nb.{module}.{name} is missing'
    assert name in mod.__all__, f'ardm_nb.{module}.{name} is not in __all__'
    assert callable(getattr(mod, name))


def test_hyperschedule_constructors():
    from ardm_nb.schedules import Hyperschedule
    for ctor in ('ar', 'mdlm', 'block', 'ar_diffusion'):
        assert callable(getattr(Hyperschedule, ctor, None)), f'Hyperschedule.{ctor} is missing'


def test_signals_fields():
    from ardm_nb.signals import Signals
    assert Signals._fields == ('entropy', 'margin', 'confidence_change')
