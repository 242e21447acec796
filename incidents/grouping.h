#ifndef PGWARDEN_INCIDENTS_GROUPING_H_
#define PGWARDEN_INCIDENTS_GROUPING_H_

#include <string>

#include "incidents/incident.h"
#include "nlohmann/json.hpp"
#include "signals/signal_event.h"

namespace pgwarden {

// ObjectOf names what an event is about: "public.customers", "schema
// archive" (DROP SCHEMA) or "database".
std::string ObjectOf(const SignalEvent& ev);

// CulpritOf is the role an event is attributed to, "" when none: the top
// culprit of its attribution when that culprit removed, truncated or
// updated rows or was caught in flight, the user of a logged statement,
// or the session a finding is about.
std::string CulpritOf(const SignalEvent& ev);

// IsAftermath is true for the kinds that typically follow a destructive
// incident on the same target (failed logins, a rollback storm) and join it.
bool IsAftermath(SignalKind kind);

// AddMember folds the event into the incident's member for its object
// (created if new): kinds, rows before (the first figure seen), rows now
// (the latest), rows updated.
void AddMember(const SignalEvent& ev, Incident* inc);

// TablesJson lists the incident's members with rows before, now and lost,
// the largest loss first (the page's custom_details "tables").
nlohmann::json TablesJson(const Incident& inc);

// GroupSummary is the page's summary line for an incident of several
// objects ("role cleanup_job deleted 48,000 rows from 4 tables
// (public.events 24,000, public.customers 12,000, ...)"); "" for an incident
// of one object, whose summary stays its most severe event's description.
std::string GroupSummary(const Incident& inc);

// MergeRecovery folds an object's recovery point (RecoveryPoint::ToJson)
// into details["recovery"]: per object under "by_table" (an exact point
// replaces a bound, else the earlier one wins), and at the top the earliest
// over the objects: the point that leaves every object's damage out.
void MergeRecovery(const std::string& object, const nlohmann::json& point, Incident* inc);

}  // namespace pgwarden

#endif  // PGWARDEN_INCIDENTS_GROUPING_H_
