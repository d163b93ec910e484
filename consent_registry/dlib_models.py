"""face_recognition (dlib and its models), imported here only, without the warning its models package prints."""
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # face_recognition_models imports the deprecated pkg_resources
    import face_recognition

__all__ = ["face_recognition"]
