from .teacher_mode import TEACHER_MODES, ReferenceStatsTeacher, teacher_mode

__all__ = ['teacher_mode', 'TEACHER_MODES', 'ReferenceStatsTeacher']
