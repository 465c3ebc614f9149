# BraTS-2019: 30000 iterations (TraCoCo's and SSL4MIS's runs), SGD lr 0.01, poly decay
# (1 - it/max)^0.9; validation on the 25 cases of val.txt every 2000 iterations
max_iters = 30000
val_interval = 2000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, by_epoch=False, begin=0, end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
