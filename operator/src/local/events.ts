// The example event `p2p publish` sends: the same shape as consumer-template/src/event.ts
// (the operator cannot import across workspaces; a unit test keeps the two in step).

export const IMMUNISATION_ADMINISTERED = "immunisation_administered";

export interface ImmunisationAdministered {
  type: typeof IMMUNISATION_ADMINISTERED;
  eventId: string;
  patientId: string;
  vaccineCode: string;
  dose: number;
  administeredAt: string;
  providerId: string;
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
