# Full supervision on the embedded synthetic data, the ceiling of configs/fdpl/vnet_synthetic.py:
# configs/supervised/vnet_synthetic.py with every non-validation training case labeled (the 4
# labeled and the 26 unlabeled ones, 30 in all); same network, iterations, input noise and
# evaluation.
_base_ = ['./vnet_synthetic.py']
labeled_num = 30
train_dataloader = dict(dataset=dict(labeled_num=labeled_num))
val_dataloader = dict(dataset=dict(labeled_num=labeled_num))
