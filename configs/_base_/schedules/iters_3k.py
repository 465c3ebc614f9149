# The schedule of iters_9k.py shortened for small data sets: 3000 iterations, validation every 300
_base_ = ['./iters_9k.py']
max_iters = 3000
val_interval = 300
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, by_epoch=False, begin=0, end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
