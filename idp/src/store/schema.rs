//! Table definitions shared by the SQLite and PostgreSQL migrations.

diesel::table! {
    clients (id) {
        id -> Text,
        name -> Text,
        secret_hash -> Nullable<Text>,
        auth_method -> Text,
        jwks -> Nullable<Text>,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        grant_types -> Text,
        scopes -> Text,
        id_token_alg -> Text,
        risk_level -> Text,
        access_token_ttl -> BigInt,
        refresh_token_ttl -> BigInt,
        created_at -> BigInt,
        resource_server -> Bool,
        options -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        email -> Nullable<Text>,
        email_verified -> Bool,
        name -> Nullable<Text>,
        disabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        phone -> Nullable<Text>,
        phone_verified -> Bool,
        address -> Nullable<Text>,
    }
}

diesel::table! {
    credentials (id) {
        id -> Text,
        user_id -> Text,
        kind -> Text,
        label -> Nullable<Text>,
        data -> Binary,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        counter -> Nullable<BigInt>,
    }
}

diesel::table! {
    browser_sessions (id) {
        id -> Text,
        sid -> Text,
        user_id -> Text,
        acr -> Text,
        amr -> Text,
        auth_time -> BigInt,
        created_at -> BigInt,
        last_seen -> BigInt,
        idle_expires_at -> BigInt,
        expires_at -> BigInt,
        factors -> Text,
        device -> Nullable<Text>,
    }
}

diesel::table! {
    login_transactions (id) {
        id -> Text,
        browser_hash -> Text,
        csrf -> Text,
        request -> Text,
        user_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        stage -> Nullable<Text>,
    }
}

diesel::table! {
    grants (id) {
        id -> Text,
        client_id -> Text,
        user_id -> Nullable<Text>,
        scope -> Text,
        sid -> Nullable<Text>,
        acr -> Nullable<Text>,
        amr -> Text,
        auth_time -> Nullable<BigInt>,
        claims -> Nullable<Text>,
        revoked -> Bool,
        created_at -> BigInt,
        subject -> Nullable<Text>,
        jkt -> Nullable<Text>,
        x5t -> Nullable<Text>,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Text,
        grant_id -> Text,
        redirect_uri -> Text,
        code_challenge -> Nullable<Text>,
        nonce -> Nullable<Text>,
        consumed -> Bool,
        expires_at -> BigInt,
    }
}

diesel::table! {
    access_tokens (token_hash) {
        token_hash -> Text,
        grant_id -> Text,
        scope -> Text,
        revoked -> Bool,
        created_at -> BigInt,
        expires_at -> BigInt,
        x5t -> Nullable<Text>,
        jkt -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        grant_id -> Text,
        parent_hash -> Nullable<Text>,
        scope -> Text,
        rotated -> Bool,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    consents (user_id, client_id) {
        user_id -> Text,
        client_id -> Text,
        scope -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        private_key -> Binary,
        public_jwk -> Text,
        active -> Bool,
        created_at -> BigInt,
        retire_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    client_assertions (jti_hash) {
        jti_hash -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    user_keys (user_id) {
        user_id -> Text,
        wrapped -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    lockouts (subject, factor) {
        subject -> Text,
        factor -> Text,
        failures -> Integer,
        locks -> Integer,
        locked_until -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    challenges (id) {
        id -> Text,
        user_id -> Text,
        purpose -> Text,
        state -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    rate_limits (key) {
        key -> Text,
        window_start -> BigInt,
        count -> Integer,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        seq -> Nullable<BigInt>,
        at -> BigInt,
        kind -> Text,
        user_id -> Nullable<Text>,
        client_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        detail -> Text,
        prev_hash -> Nullable<Text>,
        hash -> Nullable<Text>,
    }
}

diesel::table! {
    audit_checkpoints (seq) {
        seq -> BigInt,
        hash -> Text,
        at -> BigInt,
        kid -> Text,
        jws -> Text,
    }
}

diesel::table! {
    audit_keys (kid) {
        kid -> Text,
        public_jwk -> Text,
        private_key -> Binary,
        created_at -> BigInt,
        active -> Bool,
    }
}

diesel::table! {
    audit_head (id) {
        id -> Integer,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::joinable!(credentials -> users (user_id));
diesel::joinable!(registrations -> users (user_id));
diesel::joinable!(registration_evidence -> registrations (registration_id));
diesel::joinable!(access_tokens -> grants (grant_id));
diesel::joinable!(refresh_tokens -> grants (grant_id));
diesel::joinable!(authorization_codes -> grants (grant_id));
diesel::joinable!(grants -> clients (client_id));

diesel::table! {
    biometric_consents (id) {
        id -> Text,
        user_id -> Text,
        modality -> Text,
        text_version -> Text,
        purpose -> Text,
        granted_at -> BigInt,
        withdrawn_at -> Nullable<BigInt>,
        circumstances -> Nullable<Text>,
    }
}

diesel::table! {
    capture_challenges (id) {
        id -> Text,
        holder -> Text,
        purpose -> Text,
        state -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    registrations (id) {
        id -> Text,
        user_id -> Text,
        channel -> Text,
        state -> Text,
        document -> Text,
        match_score -> Nullable<Float>,
        attempts -> Integer,
        locale -> Text,
        created_at -> BigInt,
        submitted_at -> Nullable<BigInt>,
        decided_at -> Nullable<BigInt>,
        decided_by -> Nullable<Text>,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    registration_evidence (registration_id) {
        registration_id -> Text,
        document_template -> Binary,
        document_image -> Binary,
        live_template -> Nullable<Binary>,
        face_image -> Nullable<Binary>,
    }
}

diesel::table! {
    user_languages (user_id) {
        user_id -> Text,
        lang -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
        version -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    admin_roles (user_id, role) {
        user_id -> Text,
        role -> Text,
        granted_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    clients,
    users,
    credentials,
    browser_sessions,
    login_transactions,
    grants,
    authorization_codes,
    access_tokens,
    refresh_tokens,
    consents,
    signing_keys,
    client_assertions,
    user_keys,
    lockouts,
    challenges,
    rate_limits,
    audit_events,
    audit_head,
    audit_checkpoints,
    audit_keys,
    admin_roles,
    registrations,
    registration_evidence,
    settings,
    user_languages,
);

diesel::table! {
    token_denials (id) {
        id -> Text,
        expires_at -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    pushed_requests (id) {
        id -> Text,
        client_id -> Text,
        params -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    logout_deliveries (id) {
        id -> Text,
        client_id -> Text,
        user_id -> Text,
        sid -> Text,
        subject -> Text,
        attempts -> BigInt,
        next_at -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    registration_tokens (token_hash) {
        token_hash -> Text,
        uses_left -> BigInt,
        expires_at -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    client_logos (client_id) {
        client_id -> Text,
        png -> Binary,
        fetched_at -> BigInt,
    }
}
