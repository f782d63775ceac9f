DROP TABLE registration_evidence;
DROP TABLE registrations;
