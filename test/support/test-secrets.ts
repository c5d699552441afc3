/** Secrets for tests only; never real keys. */
export const TEST_API_KEYS = ["test_key_alpha_0123456789", "test_key_bravo_0123456789", "test_key_charlie_0123456789", "test_key_delta_0123456789"] as const;
export const TEST_WEBHOOK_SIGNING_KEY = "test-signing-master-key-0123456789abcdef";
export const TEST_MACHINE_TOKEN = "test-machine-token-0123456789abcdef0123";
