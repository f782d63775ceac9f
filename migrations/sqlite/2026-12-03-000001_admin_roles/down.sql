DROP TABLE admin_roles;
