# Ablation: the teacher passes run in eval mode (BatchNorm running statistics, no dropout)
# instead of batch statistics with frozen running statistics, LA 10 %.
_base_ = ['../vnet_la_10pct.py']
pseudo_label_hook = dict(_base_.pseudo_label_hook, teacher_mode='eval')
custom_hooks = _base_.runtime_hooks + [pseudo_label_hook]
