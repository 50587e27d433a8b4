// Package wis2 speaks WMO WIS2 for a Rabta node: discovery metadata (WCMP2 records, WMO-No.
// 1192 / OGC API - Records GeoJSON) for the datasets the node offers, and notification messages
// (WNM, WMO-No. 1338) announcing new data of organisations that made theirs open, on the WIS2
// topic hierarchy.
//
// A dataset is one organisation's observations of one observed property: every Datastream of
// that organisation measuring it, at every station. Its record's id is
// urn:wmo:md:<centre-id>:rabta.<organisation>.<observed property id>; its data policy is
// "core" when the organisation's data is open, "recommended" otherwise (available under an
// agreement); its links are the SensorThings Datastreams and, for open data, the WIS2 topic
// its notifications go to.
//
// A notification announces one committed batch of one Datastream's observations. Its topic is
// origin/a/wis2/<centre-id>/data/core/<discipline> where the discipline is
// hydrology/surface-based-observations/water-quantity/stream for water level and discharge
// and weather/surface-based-observations/synop for the rest (Discipline). Its canonical link
// is the node's /wis2/data/datastreams/<id>/observations?from=<first id>&to=<last id>, public for
// open data, whose bytes' SHA-512 is its integrity value.
//
// The package is pure: it builds documents; the node reads the store and publishes.
package wis2
