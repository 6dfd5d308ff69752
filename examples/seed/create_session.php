<?php
// The client contract's PHP example, runnable (needs php-curl):
//   TRUESTACK_API_KEY=ts_test_... TRUESTACK_BASE_URL=http://localhost:3001 php examples/seed/create_session.php
$apiKey = getenv('TRUESTACK_API_KEY');
$baseUrl = getenv('TRUESTACK_BASE_URL') ?: 'https://api.truestack.my';

$ch = curl_init($baseUrl . '/api/v1/kyc/sessions');
curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
curl_setopt($ch, CURLOPT_POST, true);
curl_setopt($ch, CURLOPT_HTTPHEADER, [
    'Authorization: Bearer ' . $apiKey,
    'Content-Type: application/json',
]);
curl_setopt($ch, CURLOPT_POSTFIELDS, json_encode([
    'document_name' => 'Ahmad bin Abdullah',
    'document_number' => '901234-56-7890',
    'webhook_url' => 'https://yourapp.com/webhooks/kyc',  // Required
    'metadata' => ['user_id' => 'usr_12345'],
]));

$response = curl_exec($ch);
$status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
$data = json_decode($response, true);

$sessionId = $data['id'];
$onboardingUrl = $data['onboarding_url'];
echo $status, ' ', json_encode(['id' => $sessionId, 'onboarding_url' => $onboardingUrl]), "\n";

// Redirect user to onboarding_url (a no-op on the command line)
header('Location: ' . $onboardingUrl);
