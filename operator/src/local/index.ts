// Local mode: the controller's ports implemented without Kubernetes (channels from files,
// consumers as processes, an embedded nats-server), plus the publisher behind `p2p publish`.

export { ChannelFileError, FileChannelSource, stableUid, type FileChannelSourceOptions } from "./file-source.js";
export { ProcessWorkload, type ProcessWorkloadOptions } from "./process-workload.js";
export { LocalConnectionResolver, NotSupportedLocallyError } from "./local-connections.js";
export { LoggingEventRecorder, type LocalEvent } from "./log-events.js";
export { NatsServerNotFoundError, NatsServerProcess, freePort, type NatsServerOptions } from "./nats-server-process.js";
export { clearLocalState, defaultStateDir, readLocalState, stateFilePath, writeLocalState, type LocalState } from "./state-file.js";
export { channelsFilePath, readChannelsFile, writeChannelsFile, type LocalChannelEntry, type LocalChannelsFile } from "./channels-file.js";
export { alignColumns, channelJson, groupedProblems, problemConditions, renderTable, type ChannelRow, type ViewHeader } from "./live-view.js";
export { publishEvents, type PublishOptions, type PublishReport } from "./publisher.js";
export { IMMUNISATION_ADMINISTERED, makeExampleEvent, type ImmunisationAdministered } from "./events.js";
