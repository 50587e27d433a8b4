// Package public serves the public alert page: the warnings in force for a place, in Urdu,
// English or Chinese, readable on a slow phone without JavaScript.
//
// # Routes
//
//	GET /                 the warnings in force; ?q=<place name> or ?lat=&lon= narrow them to a
//	                      place; ?lang=ur|en|zh picks the language (else Accept-Language)
//	GET /alerts/{id}      one warning (its alert id, a whole number), with links to its CAP XML
//	                      (/cap/alerts/<identifier>.xml) and its audio where voice made some
//
// # What is public
//
// Only warnings in force: the latest message of an issued alert (never a draft), not expired,
// not a Cancel, with CAP status Actual (never Exercise, Test or System) and scope Public (never
// an operational, Restricted message). Nothing about subscribers is read. The page needs no key
// (DESIGN: the public alert page is unauthenticated); a node whose alerts are private
// (--public-alerts=false) does not mount it.
//
// # Places
//
// q is matched against the node's gazetteer as the two-way SMS commands match place names
// (twoway.Matcher: exact, consonant skeleton, or within a small edit distance; Urdu script
// too). A town or village is warned when an alert's area contains it; a district when the
// area reaches a place in it, names it by geocode, or contains its label point; a division or
// province likewise through its districts. lat and lon (WGS 84 decimal degrees) select the
// alerts whose area contains the point (and take precedence over q); the nearest town or
// village within NearKM is named.
//
// # Limits
//
// q: at most MaxQuery characters of UTF-8 text without control characters. lat: -90..90,
// lon: -180..180, both or neither, each at most 32 characters. lang: ur, en or zh. An alert id:
// 1..19 digits. Anything else is a 400 page naming the parameter and the limit. At most
// MaxAlerts warnings are listed on one page (the most severe first; the page says how many
// more there are).
//
// # Weight
//
// One HTML document, with its CSS inline and no images, fonts or scripts fetched (the optional
// "use my location" script is inline too), gzip-compressed when the client accepts it, with an
// ETag and a short Cache-Control: a first load is well under 50 KB. Urdu is set in the reader's
// own Nastaliq or Naskh font ("Noto Nastaliq Urdu", "Jameel Noori Nastaleeq", "Noto Naskh
// Arabic", serif); no web font is downloaded.
package public
