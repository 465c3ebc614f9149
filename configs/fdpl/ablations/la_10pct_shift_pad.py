# Ablation: shifted crops that leave the volume keep their drawn shift over zero padding (the
# context region is padded by the largest shift, padding marked 0 in context_mask) instead of
# having the shift clipped to the real image content (METHOD.md 7, row 3), LA 10 %.
_base_ = ['../vnet_la_10pct.py']
model = dict(semi_train_cfg=dict(shift=dict(pad=True)))
