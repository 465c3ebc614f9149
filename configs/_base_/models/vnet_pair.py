# Two V-Nets (SN1, SN2) co-trained with fixed and dynamic pseudo-labels (METHOD.md).
# Every setting of the pseudo-label method lives in `model.semi_train_cfg` (checked when the
# model is built: an option nothing reads is an error that names it); the PseudoLabelHook in a
# leaf config's custom_hooks takes none. Change them with e.g.
#   --cfg-options model.semi_train_cfg.shift.range=4,16 model.semi_train_cfg.shift.pad=True
#   --cfg-options model.semi_train_cfg.schedule.rampup_iters=600
# The context margin of the unlabeled pipeline (ContextCrop3D's max_shift) is derived from
# `shift` by fdpl.utils.check_config (tools/train.py), so it always matches.
model = dict(
    type='SemiSupervisedSegmentor',
    backbone=dict(type='VNet', in_channels=1, num_classes=2, base_channels=16,
                  norm_cfg=dict(type='BN3d'), dropout_ratio=0.5, with_dropout=True),
    loss_sup=dict(type='CEDiceLoss', alpha=0.5),
    # loss ell of the pseudo-label terms; alpha=1.0 makes it CE only
    loss_unsup=dict(type='CEDiceLoss', alpha=0.5),
    infer_with='net1',
    data_preprocessor=dict(type='VolSegDataPreprocessor'),
    test_cfg=dict(mode='classic', patch_size=(80, 112, 112), stride=(4, 18, 18)),
    semi_train_cfg=dict(
        # name -> strategy (registry PSEUDO_LABELERS); a None value switches one off, e.g.
        # strategies=dict(dyn=None) for fixed labels only
        strategies=dict(
            fix=dict(type='FixedPseudoLabel'),
            dyn=dict(type='DynamicPseudoLabel', directions='diagonal', num_crops=4,
                     region='intersection', fusion='mean', include_fixed=False)),
        # the shifted crops of every strategy that shifts: magnitude range per axis (None =
        # [ceil(P/16), floor(P/4)] of the patch side P; (lo, hi); fractions of P below 1),
        # shifted axes, and what a window leaving the volume does: pad=False clips the shift
        # to the real image content, pad=True applies it over zero padding (METHOD.md 7, row 3)
        shift=dict(range=None, axes=('h', 'w'), pad=False),
        cut=dict(type='CutMix', beta=(4.0, 4.0), full_depth=True, prob=1.0),  # None: no CUT
        cut_students=(2, ),  # sub-networks fed the CUT-mixed images
        unsup_weights=dict(fix=1.0, dyn=1.0),  # lambda per pseudo-label term
        # w(t) of all pseudo-label terms: 0 during the warm-up, then a ramp to weight_max
        schedule=dict(weight_max=1.0, warmup_iters=0, rampup_iters=6000, rampup_step=150,
                      ramp='sigmoid'),
        confidence_threshold=None,  # e.g. 0.65: voxels below it leave every pseudo-label loss
        teacher_mode='train_frozen',  # BN / dropout of the teacher passes: 'eval', 'train'
        teacher_batch_size=None,  # windows per teacher forward; None = all (CUDA), 2/thread (CPU)
        noise=0.2))  # U(-noise, noise) on the students' inputs
