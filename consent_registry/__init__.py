"""People, consent records, biometric enrolment and face matching."""
