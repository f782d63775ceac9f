DROP TABLE logout_deliveries;
