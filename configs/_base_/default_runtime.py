default_scope = 'fdpl'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False, window_size=20)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=1337)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000, max_keep_ckpts=2,
                    save_best='dice', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
# env.json in the work dir and provenance in checkpoint meta['fdpl']; RNG states saved and
# restored on resume; checkpoints kept loadable with weights_only=True
runtime_hooks = [
    dict(type='RunRecordHook'), dict(type='RNGStateHook'), dict(type='SafeCheckpointHook')]
custom_hooks = runtime_hooks
