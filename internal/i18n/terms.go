package i18n

import "strings"

// table is one language's words. Month, zone and relative-time words are CLDR 48's (as
// shipped in ICU 78.2) for ur, en, zh, sd and ps; Punjabi's, the flood classes, events, units
// and labels are ours and need review by native speakers (Sindhi, Pashto, Punjabi above all).
type table struct {
	months  [12]string
	zones   map[string]string // IANA zone → long name
	utc     string            // the word for UTC in an offset
	counts  [3]counted        // day, hour, minute
	and     string            // joins duration parts
	in      [2]string         // prefix and suffix of "in <duration>"
	classes map[string]string // flood class (English, lower case) → name
	events  map[string]string // CAP event (English, lower case) → name
	units   map[string]string // unit key (see unitKey) → name
	labels  map[Label]string
}

// Label names a fixed text of the rendered messages.
type Label string

// Labels used by the channel forms.
const (
	LabelExercise    Label = "exercise"    // prefix of an Exercise message
	LabelTest        Label = "test"        // prefix of a Test message
	LabelNotReal     Label = "notReal"     // sentence: this is an exercise or test, not a real warning
	LabelArea        Label = "area"        // the area heading
	LabelOnset       Label = "onset"       // from
	LabelExpires     Label = "expires"     // until
	LabelWhatToDo    Label = "whatToDo"    // the instruction heading
	LabelSender      Label = "sender"      // issued by
	LabelDetails     Label = "details"     // the public alert page
	LabelCAP         Label = "cap"         // the CAP XML link
	LabelUnsubscribe Label = "unsubscribe" // the unsubscribe link
	LabelCancelled   Label = "cancelled"   // prefix of a Cancel's subject
	LabelUpdated     Label = "updated"     // prefix of an Update's subject
)

// Text returns a label in the language, falling back along the chain and then to English.
func (l *Lang) Text(k Label) string {
	for _, tag := range l.chain() {
		if s, ok := langs[tag].t.labels[k]; ok {
			return s
		}
	}
	return english.labels[k]
}

// Class names a flood class in the language, in the form that fits the language's phrase for
// "a flood of class X" (Urdu "نچلے" as in "نچلے درجے کا سیلاب"). It knows the classes of
// the Flood Forecasting Division — Low, Medium, High, Very High, Exceptionally High — and
// "All clear", matched case-insensitively; for any other name it returns the name and false.
func (l *Lang) Class(name string) (string, bool) {
	return l.term(func(t *table) map[string]string { return t.classes }, strings.ToLower(strings.TrimSpace(name)), name)
}

// Event names a CAP <event> in the language (Flood, Warning, Heat wave, Heavy rain, Air
// quality, Storm, Drought, Landslide), or returns it and false.
func (l *Lang) Event(name string) (string, bool) {
	return l.term(func(t *table) map[string]string { return t.events }, strings.ToLower(strings.TrimSpace(name)), name)
}

// Unit names a unit in the language. It accepts UCUM codes ("[cft_i]/s", "m3/s", "Cel",
// "ug/m3"), symbols ("m³/s", "°C", "µg/m³") and English names ("cusecs"). An unknown unit
// is returned as given, with false.
func (l *Lang) Unit(unit string) (string, bool) {
	return l.term(func(t *table) map[string]string { return t.units }, unitKey(unit), unit)
}

func (l *Lang) term(pick func(*table) map[string]string, key, given string) (string, bool) {
	for _, tag := range l.chain() {
		if s, ok := pick(langs[tag].t)[key]; ok {
			return s, true
		}
	}
	if l.Tag != "en" {
		return given, false
	}
	if s, ok := pick(&english)[key]; ok {
		return s, true
	}
	return given, false
}

// unitKey maps the spellings of a unit to one key.
func unitKey(u string) string {
	switch strings.TrimSpace(u) {
	case "[cft_i]/s", "ft3/s", "ft³/s", "cusec", "cusecs", "cfs":
		return "cusecs"
	case "m3/s", "m³/s", "m3.s-1", "cumecs":
		return "m3/s"
	case "m":
		return "m"
	case "mm":
		return "mm"
	case "km":
		return "km"
	case "cm":
		return "cm"
	case "[ft_i]", "ft":
		return "ft"
	case "Cel", "°C", "degC":
		return "Cel"
	case "ug/m3", "µg/m³", "μg/m³", "ug/m³":
		return "ug/m3"
	case "mm/h":
		return "mm/h"
	case "%":
		return "%"
	}
	return strings.TrimSpace(u)
}

var english = table{
	months: [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	zones:  map[string]string{"Asia/Karachi": "Pakistan Standard Time", "Asia/Shanghai": "China Standard Time", "UTC": "Coordinated Universal Time"},
	utc:    "UTC",
	counts: [3]counted{{"day", "days", "day", "days"}, {"hour", "hours", "hour", "hours"}, {"minute", "minutes", "minute", "minutes"}},
	and:    " ", in: [2]string{"in ", ""},
	classes: map[string]string{"low": "Low", "medium": "Medium", "high": "High", "very high": "Very High",
		"exceptionally high": "Exceptionally High", "all clear": "All clear"},
	events: map[string]string{"flood": "Flood", "warning": "Warning", "heat wave": "Heat wave", "heavy rain": "Heavy rain",
		"air quality": "Air quality", "storm": "Storm", "drought": "Drought", "landslide": "Landslide"},
	units: map[string]string{"cusecs": "cusecs", "m3/s": "m³/s", "m": "m", "mm": "mm", "km": "km", "cm": "cm", "ft": "ft",
		"Cel": "°C", "ug/m3": "µg/m³", "mm/h": "mm/h", "%": "%"},
	labels: map[Label]string{LabelExercise: "EXERCISE", LabelTest: "TEST", LabelNotReal: "This is an exercise, not a real warning.",
		LabelArea: "Area", LabelOnset: "From", LabelExpires: "Until", LabelWhatToDo: "What to do", LabelSender: "Issued by",
		LabelDetails: "Details", LabelCAP: "Alert file (CAP XML)", LabelUnsubscribe: "Unsubscribe",
		LabelCancelled: "Cancelled", LabelUpdated: "Update"},
}

var urdu = table{
	months: [12]string{"جنوری", "فروری", "مارچ", "اپریل", "مئی", "جون", "جولائی", "اگست", "ستمبر", "اکتوبر", "نومبر", "دسمبر"},
	zones:  map[string]string{"Asia/Karachi": "پاکستان کا معیاری وقت", "Asia/Shanghai": "چین سٹینڈرڈ ٹائم", "UTC": "عالمی رابطہ وقت"},
	utc:    "یو ٹی سی",
	counts: [3]counted{{"دن", "دن", "دن", "دنوں"}, {"گھنٹہ", "گھنٹے", "گھنٹے", "گھنٹے"}, {"منٹ", "منٹ", "منٹ", "منٹ"}},
	and:    " اور ", in: [2]string{"", " میں"},
	classes: map[string]string{"low": "نچلے", "medium": "درمیانے", "high": "اونچے", "very high": "بہت اونچے",
		"exceptionally high": "انتہائی اونچے", "all clear": "خطرہ ختم"},
	events: map[string]string{"flood": "سیلاب", "warning": "انتباہ", "heat wave": "شدید گرمی", "heavy rain": "شدید بارش",
		"air quality": "فضائی آلودگی", "storm": "طوفان", "drought": "خشک سالی", "landslide": "لینڈ سلائیڈنگ"},
	units: map[string]string{"cusecs": "کیوسک", "m3/s": "مکعب میٹر فی سیکنڈ", "m": "میٹر", "mm": "ملی میٹر", "km": "کلومیٹر",
		"cm": "سینٹی میٹر", "ft": "فٹ", "Cel": "ڈگری سینٹی گریڈ", "ug/m3": "مائیکروگرام فی مکعب میٹر", "mm/h": "ملی میٹر فی گھنٹہ", "%": "فیصد"},
	labels: map[Label]string{LabelExercise: "مشق", LabelTest: "آزمائش", LabelNotReal: "یہ مشق ہے، اصل انتباہ نہیں۔",
		LabelArea: "علاقہ", LabelOnset: "کب سے", LabelExpires: "کب تک", LabelWhatToDo: "کیا کریں", LabelSender: "جاری کنندہ",
		LabelDetails: "تفصیل", LabelCAP: "انتباہ کی مکمل فائل", LabelUnsubscribe: "رکنیت ختم کریں",
		LabelCancelled: "منسوخ", LabelUpdated: "تازہ کاری"},
}

var sindhi = table{
	months: [12]string{"جنوري", "فيبروري", "مارچ", "اپريل", "مئي", "جون", "جولاءِ", "آگسٽ", "سيپٽمبر", "آڪٽوبر", "نومبر", "ڊسمبر"},
	zones:  map[string]string{"Asia/Karachi": "پاڪستان جو معياري وقت", "Asia/Shanghai": "چائنا جو معياري وقت", "UTC": "عالمي ٺهڪندڙ وقت"},
	utc:    "يو ٽي سي",
	counts: [3]counted{{"ڏينهن", "ڏينهن", "ڏينهن", "ڏينهن"}, {"ڪلاڪ", "ڪلاڪ", "ڪلاڪ", "ڪلاڪ"}, {"منٽ", "منٽ", "منٽ", "منٽن"}},
	and:    " ۽ ", in: [2]string{"", " ۾"},
	classes: map[string]string{"low": "هيٺين", "medium": "وچولي", "high": "مٿاهين", "very high": "تمام مٿاهين",
		"exceptionally high": "غير معمولي مٿاهين", "all clear": "خطرو ٽري ويو"},
	events: map[string]string{"flood": "ٻوڏ", "warning": "خبرداري", "heat wave": "سخت گرمي", "heavy rain": "تيز برسات",
		"air quality": "هوائي آلودگي", "storm": "طوفان", "drought": "ڏڪار", "landslide": "زميني کسڪاءُ"},
	units: map[string]string{"cusecs": "ڪيوسڪ", "m3/s": "ڪيوبڪ ميٽر في سيڪنڊ", "m": "ميٽر", "mm": "ملي ميٽر", "km": "ڪلوميٽر",
		"cm": "سينٽي ميٽر", "ft": "فوٽ", "Cel": "ڊگري سينٽي گريڊ", "ug/m3": "مائڪروگرام في ڪيوبڪ ميٽر", "mm/h": "ملي ميٽر في ڪلاڪ", "%": "سيڪڙو"},
	labels: map[Label]string{LabelExercise: "مشق", LabelTest: "آزمائش", LabelNotReal: "هي مشق آهي، اصل خبرداري ناهي.",
		LabelArea: "علائقو", LabelOnset: "ڪڏهن کان", LabelExpires: "ڪڏهن تائين", LabelWhatToDo: "ڇا ڪجي", LabelSender: "جاري ڪندڙ",
		LabelDetails: "تفصيل", LabelCAP: "خبرداري جي مڪمل فائل", LabelUnsubscribe: "رڪنيت ختم ڪريو",
		LabelCancelled: "منسوخ", LabelUpdated: "تازه ڪاري"},
}

var pashto = table{
	// Gregorian months as CLDR's ps_PK has them (CLDR's default calendar for ps is the Persian
	// one, used in Afghanistan; Pakistan's Pashto press uses the Gregorian months).
	months: [12]string{"جنوري", "فېبروري", "مارچ", "اپریل", "مۍ", "جون", "جولای", "اګست", "سپتمبر", "اکتوبر", "نومبر", "دسمبر"},
	zones:  map[string]string{"Asia/Karachi": "پاکستان معیاري وخت", "Asia/Shanghai": "چین معیاري وخت", "UTC": "نړیوال همغږي وخت"},
	utc:    "يو ټي سي",
	counts: [3]counted{{"ورځ", "ورځې", "ورځ", "ورځو"}, {"ساعت", "ساعته", "ساعت", "ساعتو"}, {"دقیقه", "دقیقې", "دقيقه", "دقيقو"}},
	and:    " او ", in: [2]string{"په ", " کې"},
	classes: map[string]string{"low": "ټیټې کچې", "medium": "منځنۍ کچې", "high": "لوړې کچې", "very high": "ډېرې لوړې کچې",
		"exceptionally high": "بې ساري لوړې کچې", "all clear": "خطر پای ته ورسېد"},
	events: map[string]string{"flood": "سېلاب", "warning": "خبرتیا", "heat wave": "سخته ګرمي", "heavy rain": "درانه باران",
		"air quality": "د هوا ککړتیا", "storm": "توپان", "drought": "وچکالي", "landslide": "ښوییدنه"},
	units: map[string]string{"cusecs": "کیوسک", "m3/s": "مکعب متره په ثانیه کې", "m": "متره", "mm": "ملي متره", "km": "کیلومتره",
		"cm": "سانتي متره", "ft": "فټه", "Cel": "درجې سانتي ګراد", "ug/m3": "مایکروګرام په مکعب متر کې", "mm/h": "ملي متره په ساعت کې", "%": "سلنه"},
	labels: map[Label]string{LabelExercise: "تمرین", LabelTest: "ازموینه", LabelNotReal: "دا تمرین دی، اصلي خبرتیا نه ده.",
		LabelArea: "سیمه", LabelOnset: "له", LabelExpires: "تر", LabelWhatToDo: "څه وکړئ", LabelSender: "صادروونکی",
		LabelDetails: "جزئیات", LabelCAP: "د خبرتیا بشپړه فایل", LabelUnsubscribe: "ګډون لغوه کړئ",
		LabelCancelled: "لغوه شوه", LabelUpdated: "تازه"},
}

var punjabi = table{
	// CLDR pa_Arab months; zone names, counts and "in" are ours (CLDR has none for pa_Arab).
	months: [12]string{"جنوری", "فروری", "مارچ", "اپریل", "مئ", "جون", "جولائی", "اگست", "ستمبر", "اکتوبر", "نومبر", "دسمبر"},
	zones:  map[string]string{"Asia/Karachi": "پاکستان دا معیاری ویلا", "Asia/Shanghai": "چین دا معیاری ویلا", "UTC": "عالمی رابطہ ویلا"},
	utc:    "یو ٹی سی",
	counts: [3]counted{{"دن", "دن", "دن", "دناں"}, {"گھنٹہ", "گھنٹے", "گھنٹے", "گھنٹیاں"}, {"منٹ", "منٹ", "منٹ", "منٹاں"}},
	and:    " تے ", in: [2]string{"", " وچ"},
	classes: map[string]string{"low": "نیویں", "medium": "درمیانے", "high": "اُچے", "very high": "بہت اُچے",
		"exceptionally high": "انتہائی اُچے", "all clear": "خطرہ مُک گیا"},
	events: map[string]string{"flood": "ہڑ", "warning": "خبرداری", "heat wave": "سخت گرمی", "heavy rain": "تیز مینہ",
		"air quality": "ہوا دی آلودگی", "storm": "طوفان", "drought": "سوکا", "landslide": "لینڈ سلائیڈنگ"},
	labels: map[Label]string{LabelExercise: "مشق", LabelTest: "آزمائش", LabelNotReal: "ایہ مشق اے، اصل خبرداری نئیں۔",
		LabelArea: "علاقہ", LabelOnset: "کدوں توں", LabelExpires: "کدوں تک", LabelWhatToDo: "کیہ کرنا اے", LabelSender: "جاری کرن والا",
		LabelDetails: "تفصیل", LabelCAP: "خبرداری دی پوری فائل", LabelUnsubscribe: "رکنیت مکاؤ",
		LabelCancelled: "منسوخ", LabelUpdated: "نویں خبر"},
	// units: Urdu's (the fallback) are the words Punjabi readers see in Pakistani print.
}

var chinese = table{
	months: [12]string{"1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"},
	zones:  map[string]string{"Asia/Karachi": "巴基斯坦标准时间", "Asia/Shanghai": "中国标准时间", "UTC": "协调世界时"},
	utc:    "协调世界时",
	counts: [3]counted{{"天", "天", "天", "天"}, {"小时", "小时", "小时", "小时"}, {"分钟", "分钟", "分钟", "分钟"}},
	and:    "", in: [2]string{"", "后"},
	classes: map[string]string{"low": "低等级", "medium": "中等级", "high": "高等级", "very high": "很高等级",
		"exceptionally high": "特高等级", "all clear": "警报解除"},
	events: map[string]string{"flood": "洪水", "warning": "预警", "heat wave": "高温", "heavy rain": "暴雨",
		"air quality": "空气污染", "storm": "风暴", "drought": "干旱", "landslide": "滑坡"},
	units: map[string]string{"cusecs": "立方英尺每秒", "m3/s": "立方米每秒", "m": "米", "mm": "毫米", "km": "公里", "cm": "厘米",
		"ft": "英尺", "Cel": "摄氏度", "ug/m3": "微克/立方米", "mm/h": "毫米每小时", "%": "%"},
	labels: map[Label]string{LabelExercise: "演练", LabelTest: "测试", LabelNotReal: "这是演练，不是真实预警。",
		LabelArea: "区域", LabelOnset: "开始", LabelExpires: "截止", LabelWhatToDo: "应对措施", LabelSender: "发布机构",
		LabelDetails: "详情", LabelCAP: "完整预警文件", LabelUnsubscribe: "退订",
		LabelCancelled: "已解除", LabelUpdated: "更新"},
}
