package demo

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"

	"github.com/rabta/rabta/internal/i18n"
	"github.com/rabta/rabta/internal/rule"
)

// floodLevels are the five classes with their CAP meaning, least severe first.
var floodLevels = []struct {
	name, col string
	sev       rule.Severity
	urg       rule.Urgency
}{
	{"Low", "low_cusecs", rule.Minor, rule.Expected},
	{"Medium", "medium_cusecs", rule.Moderate, rule.Expected},
	{"High", "high_cusecs", rule.Severe, rule.Expected},
	{"Very High", "very_high_cusecs", rule.Severe, rule.Immediate},
	{"Exceptionally High", "exceptionally_high_cusecs", rule.Extreme, rule.Immediate},
}

// autoIssueRivers are the rivers whose demo rules issue without an approver (Chenab and Ravi,
// the 2025 flood rivers, so that the feed fills at once); the others' drafts wait for one.
var autoIssueRivers = map[string]bool{"CHENAB": true, "RAVI": true}

// Rules returns the demo's warning rules: one threshold rule per gauge with its five real flood
// classes (hysteresis 5 %, no hold: the reports are at most a few a day), status Exercise,
// an area of 25 km around the gauge, and templates in English, Urdu, Chinese, Sindhi, Pashto and
// Punjabi (Shahmukhi); Names gives the names those messages need.
func Rules(ds *Dataset, ids map[string]int64) ([]rule.Rule, error) {
	f, err := files.Open("data/flood_classes.csv")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("flood_classes.csv: %w", err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	var rules []rule.Rule
	for _, rec := range recs[1:] {
		station, river := rec[col["station"]], rec[col["river"]]
		key := "pdma-" + slug(station)
		st := ds.Station(key)
		id, ok := ids[key+"/discharge"]
		if st == nil || !ok {
			return nil, fmt.Errorf("flood_classes.csv: no demo gauge %q", station)
		}
		r := rule.Rule{
			ID: "flood-" + slug(station), Name: "Flood classes at " + st.Name, Kind: rule.Threshold,
			Datastreams: []int64{id}, Hysteresis: rule.Margin{Value: 5, Percent: true},
			Status: rule.Exercise, AutoIssue: autoIssueRivers[river], Audience: fmt.Sprintf(audience["en"], titleCase(river)),
			Area: rule.Area{Desc: gaugeArea(titleCase(river), st.Name),
				Circles: []rule.Circle{{Center: rule.LatLon{Lat: st.Lat, Lon: st.Lon}, RadiusKm: areaRadiusKm}}},
			Templates: templates,
		}
		for _, l := range floodLevels {
			v, err := strconv.ParseFloat(rec[col[l.col]], 64)
			if err != nil {
				return nil, fmt.Errorf("flood_classes.csv: %s %s: %w", station, l.col, err)
			}
			r.Levels = append(r.Levels, rule.Level{Name: l.name, Value: v, Severity: l.sev, Urgency: l.urg, Certainty: rule.Observed, Event: "Flood"})
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// templates are the demo's messages in six languages. Every value in them reaches the reader in
// the info's language (alert.templateData; names through Names). The Sindhi, Pashto and
// Punjabi texts are our translations and need review by native speakers.
var templates = map[string]rule.Template{
	"en": {
		Headline:    "{{if .Cancel}}All clear at {{.Station}}{{else}}{{.Level}} flood at {{.Station}}{{end}}",
		Description: "{{if .Cancel}}{{.Station}} reported a discharge of {{.Quantity}} at {{.ObservedAt}}, below the flood classes.{{else}}{{.Station}} reported a discharge of {{.Quantity}} at {{.ObservedAt}}: {{.Level}} flood class.{{end}}",
		Instruction: "{{if .Cancel}}The danger has passed, but stay careful near the river banks and follow the instructions of the PDMA and district administration.{{else}}Move people, livestock and valuables away from the river banks and low-lying areas. Follow the instructions of the PDMA and district administration.{{end}}",
	},
	"ur": {
		Headline:    "{{if .Cancel}}{{.Station}}: سیلاب کا خطرہ ختم{{else}}{{.Station}} پر {{.Level}} درجے کا سیلاب{{end}}",
		Description: "{{if .Cancel}}{{.Station}} پر {{.ObservedAt}} کو پانی کا بہاؤ {{.Quantity}} ریکارڈ کیا گیا، جو سیلاب کے درجوں سے کم ہے۔{{else}}{{.Station}} پر {{.ObservedAt}} کو پانی کا بہاؤ {{.Quantity}} ریکارڈ کیا گیا: {{.Level}} درجے کا سیلاب۔{{end}}",
		Instruction: "{{if .Cancel}}خطرہ ٹل گیا ہے، لیکن دریا کے کناروں پر احتیاط جاری رکھیں اور پی ڈی ایم اے اور ضلعی انتظامیہ کی ہدایات پر عمل کریں۔{{else}}دریا کے کناروں اور نشیبی علاقوں سے لوگوں، مویشیوں اور قیمتی سامان کو محفوظ مقامات پر منتقل کریں۔ پی ڈی ایم اے اور ضلعی انتظامیہ کی ہدایات پر عمل کریں۔{{end}}",
	},
	"sd": {
		Headline:    "{{if .Cancel}}{{.Station}}: ٻوڏ جو خطرو ٽري ويو{{else}}{{.Station}} تي {{.Level}} سطح جي ٻوڏ{{end}}",
		Description: "{{if .Cancel}}{{.Station}} تي {{.ObservedAt}} تي پاڻيءَ جو وهڪرو {{.Quantity}} رڪارڊ ڪيو ويو، جيڪو ٻوڏ جي سطحن کان گهٽ آهي.{{else}}{{.Station}} تي {{.ObservedAt}} تي پاڻيءَ جو وهڪرو {{.Quantity}} رڪارڊ ڪيو ويو: {{.Level}} سطح جي ٻوڏ.{{end}}",
		Instruction: "{{if .Cancel}}خطرو ٽري ويو آهي، پر درياهه جي ڪنارن تي احتياط جاري رکو ۽ پي ڊي ايم اي ۽ ضلعي انتظاميه جي هدايتن تي عمل ڪريو.{{else}}ماڻهن، مال ۽ قيمتي سامان کي درياهه جي ڪنارن ۽ هيٺاهين علائقن مان محفوظ هنڌن تي منتقل ڪريو. پي ڊي ايم اي ۽ ضلعي انتظاميه جي هدايتن تي عمل ڪريو.{{end}}",
	},
	"ps": {
		Headline:    "{{if .Cancel}}{{.Station}}: د سېلاب خطر پای ته ورسېد{{else}}په {{.Station}} کې د {{.Level}} سېلاب{{end}}",
		Description: "{{if .Cancel}}په {{.Station}} کې په {{.ObservedAt}} د اوبو بهیر {{.Quantity}} ثبت شو، چې د سېلاب له کچو ټیټ دی.{{else}}په {{.Station}} کې په {{.ObservedAt}} د اوبو بهیر {{.Quantity}} ثبت شو: د {{.Level}} سېلاب.{{end}}",
		Instruction: "{{if .Cancel}}خطر پای ته رسېدلی، خو د سیند په غاړو کې احتیاط ته دوام ورکړئ او د پي ډي ايم اې او ضلعي ادارې لارښوونې ومنئ.{{else}}خلک، څاروي او قیمتي توکي د سیند له غاړو او ټیټو سیمو څخه خوندي ځایونو ته ولېږدوئ. د پي ډي ايم اې او ضلعي ادارې لارښوونې ومنئ.{{end}}",
	},
	"pnb": {
		Headline:    "{{if .Cancel}}{{.Station}}: ہڑ دا خطرہ مُک گیا{{else}}{{.Station}} تے {{.Level}} درجے دا ہڑ{{end}}",
		Description: "{{if .Cancel}}{{.Station}} تے {{.ObservedAt}} نوں پانی دا وہاؤ {{.Quantity}} ریکارڈ کیتا گیا، جیہڑا ہڑ دے درجیاں توں گھٹ اے۔{{else}}{{.Station}} تے {{.ObservedAt}} نوں پانی دا وہاؤ {{.Quantity}} ریکارڈ کیتا گیا: {{.Level}} درجے دا ہڑ۔{{end}}",
		Instruction: "{{if .Cancel}}خطرہ ٹل گیا اے، پر دریا دے کنڈھیاں تے احتیاط جاری رکھو تے پی ڈی ایم اے تے ضلعی انتظامیہ دیاں ہدایتاں تے عمل کرو۔{{else}}لوکاں، ڈنگراں تے قیمتی سامان نوں دریا دے کنڈھیاں تے نیویاں تھاواں توں محفوظ تھاواں تے لے جاؤ۔ پی ڈی ایم اے تے ضلعی انتظامیہ دیاں ہدایتاں تے عمل کرو۔{{end}}",
	},
	"zh": {
		Headline:    "{{if .Cancel}}{{.Station}}：洪水警报解除{{else}}{{.Station}}：{{.Level}}洪水{{end}}",
		Description: "{{if .Cancel}}{{.Station}}于{{.ObservedAt}}测得流量{{.Quantity}}，已低于洪水等级。{{else}}{{.Station}}于{{.ObservedAt}}测得流量{{.Quantity}}，属于{{.Level}}洪水。{{end}}",
		Instruction: "{{if .Cancel}}警报已解除，但请在河岸附近继续保持警惕，并听从当地灾害管理部门的指示。{{else}}请将人员、牲畜和贵重物品转移出河岸和低洼地区，并听从当地灾害管理部门的指示。{{end}}",
	},
}

// rivers are the demo's rivers in each language (English key as in the rules' texts). Urdu and
// Sindhi forms as printed in the sources of station_names.csv (دریائے چناب …; درياءَ چناب,
// راوي درياهه, ستلج درياهه at sindhi.voiceofsindh.com.pk/post/73275); Chinese as in the
// Indus Waters Treaty reporting quoted at zlsqlt.com/portal.php?aid=221189 (印度河、杰赫勒姆河、
// 杰纳布河、拉维河、萨特莱杰河). Pashto and Punjabi forms are ours.
var rivers = map[string]map[string]string{
	"Indus":  {"ur": "دریائے سندھ", "sd": "سنڌو درياهه", "ps": "اباسین سیند", "pnb": "دریا سندھ", "zh": "印度河"},
	"Jhelum": {"ur": "دریائے جہلم", "sd": "جهلم درياهه", "ps": "جهلم سیند", "pnb": "دریا جہلم", "zh": "杰赫勒姆河"},
	"Chenab": {"ur": "دریائے چناب", "sd": "درياءَ چناب", "ps": "چناب سیند", "pnb": "دریا چناب", "zh": "杰纳布河"},
	"Ravi":   {"ur": "دریائے راوی", "sd": "راوي درياهه", "ps": "راوي سیند", "pnb": "دریا راوی", "zh": "拉维河"},
	"Sutlej": {"ur": "دریائے ستلج", "sd": "ستلج درياهه", "ps": "ستلج سیند", "pnb": "دریا ستلج", "zh": "萨特莱杰河"},
}

// areaDesc and audience write a gauge rule's area description and audience ("Chenab river
// within 25 km of Khanki Headworks", "people along the Chenab river") in each language, given
// the river's and the station's names in it and the radius in its digits.
var (
	areaDesc = map[string]string{
		"en": "%[1]s river within %[3]s km of %[2]s", "ur": "%[1]s، %[2]s سے %[3]s کلومیٹر کے اندر",
		"sd": "%[1]s، %[2]s کان %[3]s ڪلوميٽرن اندر", "ps": "%[1]s، له %[2]s څخه تر %[3]s کیلومترو پورې",
		"pnb": "%[1]s، %[2]s توں %[3]s کلومیٹر دے اندر", "zh": "%[1]s%[2]s周边%[3]s公里范围内",
	}
	audience = map[string]string{
		"en": "people along the %s river", "ur": "%s کے کنارے رہنے والے لوگ", "sd": "%s جي ڪناري رهندڙ ماڻهو",
		"ps": "د %s په غاړه اوسېدونکي خلک", "pnb": "%s دے کنارے وسن والے لوک", "zh": "%s沿岸居民",
	}
)

const areaRadiusKm = 25

// SenderName is the <senderName> the demo's messages are written for (alert.Config.SenderName);
// Names has it in every language (our transliterations; Chinese our translation).
const SenderName = "PDMA Punjab"

var senderNames = map[string]string{"ur": "پی ڈی ایم اے پنجاب", "sd": "پي ڊي ايم اي پنجاب", "ps": "پي ډي ايم اې پنجاب",
	"pnb": "پی ڈی ایم اے پنجاب", "zh": "旁遮普省灾害管理局"}

// Names returns the demo's names for alert.Config.Names: the gauge stations' names in Urdu
// script (all 18), Sindhi (8) and Chinese (1) from data/station_names.csv, each with its source
// there; the rivers; SenderName; and every gauge rule's area description and audience in the six languages.
// A station without a name in a language falls back as i18n.Names says (Sindhi, Pashto and
// Punjabi to Urdu script; Chinese to English).
func Names(ds *Dataset) (*i18n.Names, error) {
	f, err := files.Open("data/station_names.csv")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := i18n.ReadNames(f)
	if err != nil {
		return nil, fmt.Errorf("station_names.csv: %w", err)
	}
	for tag, s := range senderNames {
		n.Add(SenderName, tag, s)
	}
	for en, forms := range rivers {
		for tag, s := range forms {
			n.Add(en, tag, s)
		}
	}
	for _, st := range ds.Stations {
		river, _ := st.Properties["river"].(string)
		if _, ok := rivers[river]; !ok || !strings.HasPrefix(st.Key, "pdma-") {
			continue
		}
		for _, tag := range i18n.Langs() {
			if tag == "en" {
				continue
			}
			l := i18n.For(tag)
			station, _ := n.Name(tag, st.Name)
			riv, _ := n.Name(tag, river)
			n.Add(gaugeArea(river, st.Name), tag, fmt.Sprintf(areaDesc[tag], riv, station, l.Number(areaRadiusKm)))
			n.Add(fmt.Sprintf(audience["en"], river), tag, fmt.Sprintf(audience[tag], riv))
		}
	}
	return n, nil
}

// gaugeArea is a gauge rule's area description in English.
func gaugeArea(river, station string) string {
	return fmt.Sprintf(areaDesc["en"], river, station, strconv.Itoa(areaRadiusKm))
}
