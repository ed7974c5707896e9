// The event this example consumes. `p2p publish` generates the same shape, so keep the two
// in step when you change it.

export const IMMUNISATION_ADMINISTERED = "immunisation_administered";

export interface ImmunisationAdministered {
  type: typeof IMMUNISATION_ADMINISTERED;
  eventId: string;
  patientId: string;
  vaccineCode: string;
  /** 1 for the first dose of a course. */
  dose: number;
  /** ISO 8601 date or date-time. */
  administeredAt: string;
  providerId: string;
  /**
   * Test hooks, never sent by a real publisher: "transient" fails the first
   * `transientFailures` deliveries (default 1) with a retryable error; "always-fail" fails
   * every delivery, so the message ends in the dead-letter queue after maxDeliver.
   */
  simulate?: "transient" | "always-fail";
  transientFailures?: number;
}

const VACCINE_CODES = ["MMR", "DTaP-IPV-Hib-HepB", "PCV13", "MenB", "HPV", "Influenza", "Rotavirus", "COVID-19"];
const BASE_DAY_MS = Date.UTC(2025, 0, 6, 9, 0, 0);

/** A valid, deterministic example event: the same i gives the same event. */
export function makeExampleEvent(i: number, runId = "evt"): ImmunisationAdministered {
  return {
    type: IMMUNISATION_ADMINISTERED,
    eventId: `${runId}-${i}`,
    patientId: `patient-${(i * 7919) % 100_000}`,
    vaccineCode: VACCINE_CODES[i % VACCINE_CODES.length]!,
    dose: 1 + (i % 3),
    administeredAt: new Date(BASE_DAY_MS + (i % 100_000) * 60_000).toISOString(),
    providerId: `provider-${i % 50}`,
  };
}
