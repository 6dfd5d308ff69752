<?php
/**
 * Verify a TrueStack webhook in PHP (standard hash functions only).
 *
 * In your receiver:
 *
 *     require 'verify_webhook.php';
 *     $body = file_get_contents('php://input');          // the RAW body, before json_decode
 *     try {
 *         $event = truestack_verify_webhook($body, getallheaders(), getenv('TRUESTACK_API_KEY'), getenv('TRUESTACK_WEBHOOK_SECRET'));
 *     } catch (TrueStackWebhookError $e) {
 *         http_response_code(400);
 *         exit;
 *     }
 *     // store, deduplicate on $event['id'], answer 2xx fast
 *
 * Run as a receiver:   TRUESTACK_API_KEY=... TRUESTACK_WEBHOOK_SECRET=whsec_... php -S 127.0.0.1:8080 verify_webhook.php
 * Check a capture:     php verify_webhook.php capture.json [now]
 *   (capture.json: {"headers": {...}, "body_base64": "...", "api_key": "...", "secret": "whsec_..."})
 */

class TrueStackWebhookError extends RuntimeException
{
}

/**
 * Returns the decoded event, or throws TrueStackWebhookError. Give $apiKey (checks
 * X-Webhook-Signature), $secret (checks the Standard Webhooks headers and refuses
 * timestamps more than $tolerance seconds from now), or both; each given must pass.
 */
function truestack_verify_webhook(
    string $rawBody,
    array $headers,
    ?string $apiKey = null,
    ?string $secret = null,
    int $tolerance = 300,
    ?int $now = null
): array {
    if (($apiKey === null || $apiKey === '') && ($secret === null || $secret === '')) {
        throw new InvalidArgumentException('give an API key, a whsec_ secret or both');
    }
    $h = [];
    foreach ($headers as $name => $value) {
        $h[strtolower((string) $name)] = trim(is_array($value) ? implode(',', $value) : (string) $value);
    }

    if ($secret !== null && $secret !== '') {
        $id = $h['webhook-id'] ?? '';
        $timestamp = $h['webhook-timestamp'] ?? '';
        $signatures = $h['webhook-signature'] ?? '';
        if ($id === '' || $timestamp === '' || $signatures === '') {
            throw new TrueStackWebhookError('missing webhook-id, webhook-timestamp or webhook-signature header');
        }
        if (!ctype_digit($timestamp)) {
            throw new TrueStackWebhookError('webhook-timestamp is not a Unix time');
        }
        if (abs(($now ?? time()) - (int) $timestamp) > $tolerance) {
            throw new TrueStackWebhookError('webhook-timestamp is outside the tolerance (stale or replayed)');
        }
        $key = base64_decode(str_starts_with($secret, 'whsec_') ? substr($secret, 6) : $secret, true);
        if ($key === false) {
            throw new InvalidArgumentException('the secret is not a whsec_ secret');
        }
        $expected = base64_encode(hash_hmac('sha256', $id . '.' . $timestamp . '.' . $rawBody, $key, true));
        $matched = false;
        foreach (explode(' ', $signatures) as $candidate) {
            $parts = explode(',', $candidate, 2);
            // hash_equals compares in constant time; every candidate is compared.
            if (count($parts) === 2 && $parts[0] === 'v1' && hash_equals($expected, $parts[1])) {
                $matched = true;
            }
        }
        if (!$matched) {
            throw new TrueStackWebhookError('no webhook-signature matches the body');
        }
    }

    if ($apiKey !== null && $apiKey !== '') {
        $received = $h['x-webhook-signature'] ?? '';
        if ($received === '') {
            throw new TrueStackWebhookError('missing X-Webhook-Signature header');
        }
        if (!hash_equals(hash_hmac('sha256', $rawBody, $apiKey), $received)) {
            throw new TrueStackWebhookError('X-Webhook-Signature does not match the body');
        }
    }

    $event = json_decode($rawBody, true);
    if (!is_array($event) || array_is_list($event)) {
        throw new TrueStackWebhookError('body is not a JSON object');
    }
    return $event;
}

if (PHP_SAPI === 'cli-server') {
    // A receiver: php -S 127.0.0.1:8080 verify_webhook.php
    try {
        $event = truestack_verify_webhook(
            file_get_contents('php://input'),
            getallheaders(),
            getenv('TRUESTACK_API_KEY') ?: null,
            getenv('TRUESTACK_WEBHOOK_SECRET') ?: null
        );
    } catch (TrueStackWebhookError $e) {
        http_response_code(400);
        echo $e->getMessage();
        return;
    }
    $log = getenv('TRUESTACK_WEBHOOK_LOG');
    if ($log) {
        file_put_contents($log, json_encode(['id' => $event['id'], 'event' => $event['event']]) . "\n", FILE_APPEND | LOCK_EX);
    }
    http_response_code(204);
} elseif (PHP_SAPI === 'cli' && isset($argv[1]) && realpath($argv[0]) === realpath(__FILE__)) {
    $capture = json_decode(file_get_contents($argv[1]), true);
    try {
        $event = truestack_verify_webhook(
            base64_decode($capture['body_base64']),
            $capture['headers'],
            $capture['api_key'] ?? null,
            $capture['secret'] ?? null,
            300,
            isset($argv[2]) ? (int) $argv[2] : null
        );
    } catch (TrueStackWebhookError $e) {
        fwrite(STDERR, 'refused: ' . $e->getMessage() . "\n");
        exit(1);
    }
    echo 'verified ', $event['id'], "\n";
}
