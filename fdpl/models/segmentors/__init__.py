from .base import BaseVolSegmentor
from .semi_supervised import SemiSupervisedSegmentor
from .supervised import SupervisedSegmentor

__all__ = ['BaseVolSegmentor', 'SupervisedSegmentor', 'SemiSupervisedSegmentor']
