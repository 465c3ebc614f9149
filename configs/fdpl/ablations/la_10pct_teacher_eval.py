# Ablation: the teacher passes run in eval mode (BatchNorm running statistics, no dropout)
# instead of batch statistics with frozen running statistics, LA 10 %.
_base_ = ['../vnet_la_10pct.py']
model = dict(semi_train_cfg=dict(teacher_mode='eval'))
