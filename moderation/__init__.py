"""The post lifecycle and its rules, findings, the SMT review queue and the audit log."""
