# Full supervision: every training case of train.list labeled (64 with the
# 16-case validation hold-out), batch 4, 9000 iterations. The subset 'train' of the
# inherited split file (labeled + unlabeled ids) is used, all with their labels.
_base_ = ['./vnet_la_10pct.py']
train_dataloader = dict(dataset=dict(subset='train', labeled_num=None))
val_dataloader = dict(dataset=dict(labeled_num=None))
