export interface TimelineSeries {
  name: string;
  color?: string;
  dashed?: boolean;
  /** [seconds since the burst, lag] */
  lag: Array<[number, number]>;
  /** [seconds since the burst, running replicas] */
  replicas: Array<[number, number]>;
}

export function timelineSvg(chart: { title: string; subtitle?: string; series: TimelineSeries[] }): string;
export function niceCeiling(v: number): number;
