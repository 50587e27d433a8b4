package public

import "github.com/rabta/rabta/internal/cap"

// Langs are the page's languages, in the order of the language switch.
var Langs = []string{"ur", "en", "zh"}

// words are the page's own texts in one language (the alerts' texts come from their CAP
// <info> blocks; the labels shared with e-mail, such as "What to do", from i18n). The Urdu
// and Chinese texts are ours and want a native speaker's review, like i18n's.
type words struct {
	Title, Skip, Place, Search, Location, Lat, Lon, Show, UseLocation               string
	None, NoneFor, For, Near, NoPlace, Listen, Severity, AsOf, All, Ended, Language string
	More, Other, Event, Description, BadRequest, NotFound                           string
	// errors: what and where, with the limit
	ErrQuery, ErrQueryText, ErrLatLon, ErrLang, ErrID string
	Severities                                        map[cap.Severity]string
}

var texts = map[string]*words{
	"en": {
		Title: "Warnings in force", Skip: "Skip to the warnings", Place: "Place name", Search: "Search",
		Location: "Or your location", Lat: "Latitude", Lon: "Longitude", Show: "Show warnings here", UseLocation: "Use my location",
		None: "No warnings in force.", NoneFor: "No warnings in force for %s.", For: "Warnings in force for %s",
		Near: "Warnings in force at %s (near %s)", NoPlace: "No place called “%s” is known. Try another spelling, or a district's name.",
		Listen: "Listen", Severity: "Severity", AsOf: "As of %s", All: "All warnings in force", Ended: "This warning is no longer in force.",
		Language: "Language", More: "%d more warnings are in force: search for your place to see those that concern it.",
		Other: "This warning in other languages", Event: "Event", Description: "What is happening",
		BadRequest: "This request cannot be answered", NotFound: "No such warning",
		ErrQuery: "The place name (q) is too long: at most %d characters.", ErrQueryText: "The place name (q) must be text without control characters.",
		ErrLatLon: "lat and lon must both be given as decimal degrees, lat from -90 to 90 and lon from -180 to 180 (each at most 32 characters).",
		ErrLang:   "lang must be ur, en or zh.", ErrID: "A warning's number is a whole number of at most 19 digits.",
		Severities: map[cap.Severity]string{cap.SeverityExtreme: "Extreme", cap.SeveritySevere: "Severe", cap.SeverityModerate: "Moderate", cap.SeverityMinor: "Minor", cap.SeverityUnknown: "Unknown"},
	},
	"ur": {
		Title: "جاری انتباہات", Skip: "انتباہات پر جائیں", Place: "جگہ کا نام", Search: "تلاش کریں",
		Location: "یا آپ کا مقام", Lat: "عرض بلد", Lon: "طول بلد", Show: "یہاں کے انتباہات دکھائیں", UseLocation: "میرا مقام استعمال کریں",
		None: "اس وقت کوئی انتباہ جاری نہیں۔", NoneFor: "%s کے لیے اس وقت کوئی انتباہ جاری نہیں۔", For: "%s کے لیے جاری انتباہات",
		Near: "%s پر جاری انتباہات (%s کے قریب)", NoPlace: "“%s” نام کی کوئی جگہ معلوم نہیں۔ کوئی اور ہجے، یا ضلع کا نام آزمائیں۔",
		Listen: "سنیں", Severity: "شدت", AsOf: "%s تک", All: "تمام جاری انتباہات", Ended: "یہ انتباہ اب جاری نہیں۔",
		Language: "زبان", More: "مزید %d انتباہات جاری ہیں: اپنی جگہ تلاش کریں تاکہ اس سے متعلق انتباہات دیکھ سکیں۔",
		Other: "یہ انتباہ دوسری زبانوں میں", Event: "واقعہ", Description: "کیا ہو رہا ہے",
		BadRequest: "اس درخواست کا جواب نہیں دیا جا سکتا", NotFound: "ایسا کوئی انتباہ نہیں",
		ErrQuery: "جگہ کا نام (q) بہت لمبا ہے: زیادہ سے زیادہ %d حروف۔", ErrQueryText: "جگہ کا نام (q) کنٹرول حروف کے بغیر متن ہونا چاہیے۔",
		ErrLatLon: "lat اور lon دونوں اعشاری درجوں میں دیں: lat منفی 90 سے 90 تک، lon منفی 180 سے 180 تک (ہر ایک زیادہ سے زیادہ 32 حروف)۔",
		ErrLang:   "lang کی قدر ur، en یا zh ہونی چاہیے۔", ErrID: "انتباہ کا نمبر زیادہ سے زیادہ 19 ہندسوں کا پورا عدد ہے۔",
		Severities: map[cap.Severity]string{cap.SeverityExtreme: "انتہائی شدید", cap.SeveritySevere: "شدید", cap.SeverityModerate: "درمیانہ", cap.SeverityMinor: "معمولی", cap.SeverityUnknown: "نامعلوم"},
	},
	"zh": {
		Title: "生效中的预警", Skip: "跳到预警", Place: "地名", Search: "搜索",
		Location: "或您的位置", Lat: "纬度", Lon: "经度", Show: "显示此处的预警", UseLocation: "使用我的位置",
		None: "目前没有生效的预警。", NoneFor: "%s目前没有生效的预警。", For: "%s生效中的预警",
		Near: "%s生效中的预警（%s附近）", NoPlace: "找不到名为“%s”的地点。请尝试其他拼写或区县名称。",
		Listen: "收听", Severity: "严重程度", AsOf: "截至%s", All: "全部生效中的预警", Ended: "此预警已不再生效。",
		Language: "语言", More: "另有%d条预警生效：请搜索您所在的地点查看相关预警。",
		Other: "此预警的其他语言版本", Event: "事件", Description: "情况",
		BadRequest: "无法处理此请求", NotFound: "没有这条预警",
		ErrQuery: "地名（q）过长：最多%d个字符。", ErrQueryText: "地名（q）必须是不含控制字符的文本。",
		ErrLatLon: "lat和lon须同时以十进制度数给出：lat在-90到90之间，lon在-180到180之间（各最多32个字符）。",
		ErrLang:   "lang必须是ur、en或zh。", ErrID: "预警编号是最多19位的整数。",
		Severities: map[cap.Severity]string{cap.SeverityExtreme: "极端", cap.SeveritySevere: "严重", cap.SeverityModerate: "中等", cap.SeverityMinor: "轻微", cap.SeverityUnknown: "未知"},
	},
}

// langNames are the languages' names in themselves, for the switch.
var langNames = map[string]string{"ur": "اردو", "en": "English", "zh": "中文"}

// htmlLang is the lang attribute of each page language (Chinese in simplified script).
var htmlLang = map[string]string{"ur": "ur", "en": "en", "zh": "zh-Hans"}
