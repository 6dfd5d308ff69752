/**
 * Shapes of TrueStack's JSON (from docs/openapi.yaml; a test in the TrueStack repository
 * checks every schema property is here). Interfaces are written out flat on purpose, so
 * each one can be compared with its schema. New fields may appear at any time.
 */

export type SessionStatus = "pending" | "processing" | "completed" | "expired";
export type SessionResult = "approved" | "rejected";
export type DocumentKind = "front_document" | "back_document" | "face_image" | "best_frame";

export interface SessionCreateRequest {
  document_name: string;
  document_number: string;
  webhook_url: string;
  document_type?: "1" | "2";
  platform?: "Web" | "iOS" | "Android";
  redirect_url?: string;
  success_url?: string;
  fail_url?: string;
  metadata?: Record<string, unknown>;
}

export interface SessionCreated {
  id: string;
  onboarding_url: string;
  expires_at: string;
  status: "pending";
}

export interface OcrResult {
  name: string | null;
  id_number: string | null;
  address: string | null;
}

export interface DocumentLinks {
  front_document: string | null;
  back_document: string | null;
  face_image: string | null;
  best_frame: string | null;
}

export type RedactionState = "pending" | "redacted";

export interface SessionBilling {
  /** Credits charged (10 credits = RM 1). */
  credits: number;
  tier: string;
  billed_at: string;
}

export interface SessionSummary {
  id: string;
  status: SessionStatus;
  result: SessionResult | null;
  document_name: string;
  document_number: string;
  document_type: "1" | "2";
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  expires_at: string;
  /** Only once a redaction was asked for. */
  redacted?: boolean;
  redaction?: RedactionState;
}

export interface SessionDetail {
  id: string;
  status: SessionStatus;
  result: SessionResult | null;
  document_name: string;
  document_number: string;
  document_type: "1" | "2";
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  expires_at: string;
  /** null for test-mode sessions and sessions not (yet) billed. */
  billing: SessionBilling | null;
  /** Only once a redaction was asked for. */
  redacted?: boolean;
  redaction?: RedactionState;
  /** Only when status is "completed". */
  ocr_result?: OcrResult;
  /** Only when status is "completed". */
  documents?: DocumentLinks;
  /** Only when status is "completed". */
  reject_message?: string | null;
  /** Only when status is "completed". */
  verification?: Verification;
}

export interface ExtractedDocument {
  full_name: string | null;
  id_number: string | null;
  id_number_back: string | null;
  address: string | null;
  gender: string | null;
}

export interface Verification {
  document_valid: boolean | null;
  name_match: boolean | null;
  id_match: boolean | null;
  front_back_match: boolean | null;
  landmark_valid: boolean | null;
  face_match: boolean | null;
  /** 0 to 100. */
  face_match_score: number | null;
  liveness_passed: boolean | null;
}

export interface SessionRefresh {
  id: string;
  ref_id: string;
  status: SessionStatus;
  result: SessionResult | null;
  reject_message: string | null;
  refreshed: boolean;
  /** Absent when `error` is present. */
  billing?: SessionBilling | null;
  redacted?: boolean;
  redaction?: RedactionState;
  message?: string;
  error?: string;
  document?: ExtractedDocument;
  verification?: Verification;
  images?: DocumentLinks;
  _raw?: Record<string, unknown>;
}

export interface SessionList {
  next: string | null;
  previous: string | null;
  results: SessionSummary[];
}

/** The error envelope (schema `Error`). */
export interface ErrorEnvelope {
  error: string;
  message: string;
}

export interface InsufficientCreditsError {
  error: "INSUFFICIENT_CREDITS";
  message: string;
  balance: number;
  available?: number;
  required?: number;
}

export interface WebhookOcrData {
  name: string | null;
  ic_number: string | null;
  address: string | null;
  gender: string | null;
  nationality: string | null;
  date_of_birth: string | null;
}

export interface WebhookEventData {
  session_id: string;
  ref_id: string;
  status: "completed" | "expired";
  result: SessionResult | null;
  document_name: string;
  document_number: string;
  ocr_data: WebhookOcrData | null;
  /** 0 to 1. */
  face_match_score: number | null;
  /** 0 to 1. */
  liveness_score: number | null;
  metadata: Record<string, unknown>;
  /** True in kyc.session.redacted and in bodies stored after a redaction. */
  redacted?: boolean;
  /** Absent from events recorded before it was added. */
  updated_at?: string;
  /** null for test-mode, expired and not (yet) billed sessions. */
  billing?: SessionBilling | null;
}

export interface WebhookEvent {
  id: string;
  event: "kyc.session.completed" | "kyc.session.expired";
  timestamp: string;
  data: WebhookEventData;
  /** Per-session, increasing: ignore one not above the last applied. */
  sequence?: number;
}

export interface WebhookRedactedEvent {
  id: string;
  event: "kyc.session.redacted";
  timestamp: string;
  /** Personal fields read "[redacted]"; data.redacted is true. */
  data: WebhookEventData;
  sequence?: number;
}

// Account and events: not in the published OpenAPI yet; these name what every answer is
// expected to carry, and the objects hold everything the server sends.
export interface Account {
  client_code?: string;
  name?: string;
  balance?: number;
  [field: string]: unknown;
}

export interface Statement {
  month?: string;
  [field: string]: unknown;
}

export interface Invoice {
  id?: string;
  [field: string]: unknown;
}

export interface Event {
  id?: string;
  type?: string;
  session_id?: string;
  created_at?: string;
  [field: string]: unknown;
}

export interface RedeliveryAccepted {
  count?: number;
  [field: string]: unknown;
}
