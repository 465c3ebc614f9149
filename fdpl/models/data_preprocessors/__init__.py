from .vol_seg_data_preprocessor import VolSegDataPreprocessor

__all__ = ['VolSegDataPreprocessor']
